package mongostore_test

// Outside-in acceptance checks of mongostore, written from its package
// documentation: each test names the sentence it pins. They run on the
// test server (FerretDB v1: no TTL indexes, so the sweeper path).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
)

const outsiderDB = "sessionkit_outsider"

func outsiderClient(t *testing.T) *mongo.Client {
	t.Helper()
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	client, err := mongo.Connect(options.Client().ApplyURI(url).SetServerSelectionTimeout(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client
}

func collName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "out_" + hex.EncodeToString(b)
}

func newOutsiderStore(t *testing.T, client *mongo.Client, opts mongostore.Options) *mongostore.Store {
	t.Helper()
	opts.Database = outsiderDB
	if opts.Collection == "" {
		opts.Collection = collName()
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := mongostore.New(t.Context(), client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		s.Collection().Drop(context.Background())
	})
	return s
}

// "One document per session ... with an index on user (the per-user
// index) and one on expires", and NoCreate: "An existing collection still
// gets the store's indexes."
func TestOutsiderIndexes(t *testing.T) {
	client := outsiderClient(t)
	name := collName()
	if err := client.Database(outsiderDB).CreateCollection(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	s := newOutsiderStore(t, client, mongostore.Options{Collection: name, NoCreate: true, SweepInterval: -1})
	specs, err := s.Collection().Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, spec := range specs {
		var keys bson.D
		if err := bson.Unmarshal(spec.KeysDocument, &keys); err != nil {
			t.Fatal(err)
		}
		if len(keys) == 1 {
			has[keys[0].Key] = true
		}
	}
	for _, field := range []string{"user", "expires"} {
		if !has[field] {
			t.Errorf("no index on %s alone: %+v", field, specs)
		}
	}
}

// DeleteUserSessions "also deletes the user's expired documents, but
// counts only the live ones".
func TestOutsiderDeleteUserSessionsExpiredToo(t *testing.T) {
	s := newOutsiderStore(t, outsiderClient(t), mongostore.Options{SweepInterval: -1})
	ctx := t.Context()
	for key, exp := range map[string]time.Time{"live": time.Now().Add(time.Hour), "old": time.Now().Add(-time.Minute)} {
		if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Expiry: exp, UserKey: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Save(ctx, "other", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: "v"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteUserSessions(ctx, "u"); err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1 (the live one)", n, err)
	}
	if n, err := s.Collection().CountDocuments(ctx, bson.D{{Key: "user", Value: "u"}}); err != nil || n != 0 {
		t.Errorf("documents of the user left: %d, %v; want 0 (expired ones too)", n, err)
	}
	if _, err := s.Load(ctx, "other"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
}

// "When there can be no TTL index ... the store starts a background
// sweeper (every Options.SweepInterval) that Close stops"; SweepInterval
// "a negative value disables the sweeper"; New: "Close stops the store's
// sweeper but does not disconnect" the caller's client; Close "is safe to
// call more than once".
func TestOutsiderSweeperAndClose(t *testing.T) {
	client := outsiderClient(t)
	for _, tc := range []struct {
		interval time.Duration
		want     int
	}{{0, 1}, {time.Hour, 1}, {-1, 0}} {
		before := sweepers(t)
		s := newOutsiderStore(t, client, mongostore.Options{SweepInterval: tc.interval})
		want := tc.want
		if s.TTL() {
			want = 0 // the server deletes expired documents itself
		}
		if got := sweepers(t) - before; got != want {
			t.Errorf("SweepInterval %v (TTL %v): %d sweepers, want %d", tc.interval, s.TTL(), got, want)
		}
		for range 2 {
			if err := s.Close(); err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
		}
		if got := sweepers(t) - before; got != 0 {
			t.Errorf("SweepInterval %v: %d sweepers after Close", tc.interval, got)
		}
	}
	if err := client.Ping(t.Context(), nil); err != nil {
		t.Errorf("the caller's client after Close: %v", err)
	}
}

// "Record.Data is limited to MaxDataSize bytes ... Larger records are
// refused with sessionkit.ErrTooLarge": the Manager answers 500, and the
// session keeps what it had.
func TestOutsiderTooLargeOverHTTP(t *testing.T) {
	s := newOutsiderStore(t, outsiderClient(t), mongostore.Options{SweepInterval: -1})
	m := sessionkit.New(s)
	m.MaxDataSize = -1 // leave the limit to the store
	m.OpTimeout = time.Minute
	m.Logger = slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.From(r.Context())
		switch r.URL.Path {
		case "/small":
			sess.Set("v", "small")
		case "/big":
			sess.Set("v", strings.Repeat("a", mongostore.MaxDataSize))
		}
		v, _ := sessionkit.Get[string](sess, "v")
		w.Write([]byte(v[:min(len(v), 5)]))
	})))
	defer srv.Close()
	c, err := browser.NewClient(srv.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		path   string
		status int
		body   string
	}{
		{"/small", 200, "small"},
		{"/big", 500, ""},
		{"/", 200, "small"},
	} {
		resp, body, err := c.Do("GET", step.path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != step.status || step.status == 200 && body != step.body {
			t.Errorf("GET %s: %d %q, want %d %q", step.path, resp.StatusCode, body, step.status, step.body)
		}
	}
}

// sweepers counts the goroutines of sessionkit's sweeper loop.
func sweepers(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "sessionkit/internal/sweeper.") {
			n++
		}
	}
	return n
}

// All "reads the live documents in _id order, one page of
// Options.PageSize per query": every live session once, in order, across
// pages.
func TestOutsiderAllInKeyOrder(t *testing.T) {
	s := newOutsiderStore(t, outsiderClient(t), mongostore.Options{PageSize: 2, SweepInterval: -1})
	ctx := t.Context()
	keys := []string{"b", "a", "B", "A", "ab", "a b", "_", "z", "é", "~", "0", "aa"}
	for _, k := range keys {
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Save(ctx, "expired", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("All yielded %q\nwant %q", got, want)
	}
}

// A long user key is stored and indexed like any other, or refused as
// sessionkit.ErrTooLarge: never an error that reads as the store being
// down.
func TestOutsiderLongUserKey(t *testing.T) {
	s := newOutsiderStore(t, outsiderClient(t), mongostore.Options{SweepInterval: -1})
	ctx := t.Context()
	long := rand.Text()
	for len(long) < 16<<10 {
		long += rand.Text()
	}
	_, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: long})
	if err != nil {
		if !errors.Is(err, sessionkit.ErrTooLarge) {
			t.Fatalf("Save with a %d-byte user key = %v, want success or ErrTooLarge", len(long), err)
		}
		return
	}
	entries, err := s.UserSessions(ctx, long)
	if err != nil || len(entries) != 1 || entries[0].Key != "k" {
		t.Errorf("UserSessions(long key) = %v, %v; want k", entries, err)
	}
}
