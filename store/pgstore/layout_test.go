package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

func TestConnectPgSimpleLayout(t *testing.T) {
	table := sqlstoretest.UniqueTable("sk_pgsimple_")
	s := newStore(t, pgstore.Options{
		Table:     table,
		Layout:    pgstore.LayoutConnectPgSimple,
		UserKeyOf: func(data []byte) string { return string(data[len(data)-3 : len(data)-2]) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := testPool(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	data := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"a"}`

	v1, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp})
	if err != nil || v1 == 0 {
		t.Fatalf("create: %d, %v", v1, err)
	}
	if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	// The row is connect-pg-simple's: sid, sess (json, verbatim), expire.
	var sess string
	var live bool
	if err := pool.QueryRow(ctx, `SELECT sess::text, expire >= to_timestamp($2) FROM "`+table+`" WHERE sid = $1`, "sid1", float64(time.Now().Unix())).Scan(&sess, &live); err != nil {
		t.Fatal(err)
	}
	if sess != data || !live {
		t.Fatalf("row = %s, live %v", sess, live)
	}
	rec, err := s.Load(ctx, "sid1")
	if err != nil || string(rec.Data) != data || rec.Version != v1 || !rec.Expiry.Equal(exp) || rec.UserKey != "a" {
		t.Fatalf("Load = %+v, %v", rec, err)
	}
	// Another writer (the Node app) replaces the session: a save based
	// on what was read before loses.
	other := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"b"}`
	if _, err := pool.Exec(ctx, `UPDATE "`+table+`" SET sess = $1 WHERE sid = 'sid1'`, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":1}`), Version: v1, Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	rec, _ = s.Load(ctx, "sid1")
	if rec.UserKey != "b" {
		t.Fatalf("UserKey = %q", rec.UserKey)
	}
	v2, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":1}`), Version: rec.Version, Expiry: exp})
	if err != nil || v2 == rec.Version {
		t.Fatalf("save: %d, %v", v2, err)
	}
	exp2 := exp.Add(time.Hour)
	if err := s.Touch(ctx, "sid1", exp2); err != nil {
		t.Fatal(err)
	}
	if rec, _ = s.Load(ctx, "sid1"); !rec.Expiry.Equal(exp2) || rec.Version != v2 {
		t.Fatalf("after touch: %+v", rec)
	}
	if err := s.Touch(ctx, "nope", exp2); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("touch missing: %v", err)
	}
	n := 0
	for e, err := range s.All(ctx) {
		if err != nil || e.Key != "sid1" {
			t.Fatalf("All: %+v, %v", e, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("All yielded %d", n)
	}
	if _, err := s.UserSessions(ctx, "a"); !errors.Is(err, sessionkit.ErrNotSupported) {
		t.Fatalf("UserSessions: %v", err)
	}
	// Expired rows are absent, may be replaced by a new session, and are swept.
	if err := s.Touch(ctx, "sid1", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "sid1"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("expired Load: %v", err)
	}
	if _, err := s.Save(ctx, "sid2", sessionkit.Record{Data: []byte(data), Expiry: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v", n, err)
	}
	if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "sid1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "sid1"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("deleted Load: %v", err)
	}
}
