package mongostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// TestClaims checks the guarded mode's claims: a claim held by a live
// writer makes a competing Save conflict, and one left by a writer that
// died is broken after claimLease.
func TestClaims(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{})
	s.guarded = true // whatever the server
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("a"), Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	insertClaim := func(version uint64, at time.Time) {
		t.Helper()
		if _, err := s.coll.InsertOne(ctx, claimDoc{ID: claimID("k", int64(version)), Claimed: at}); err != nil {
			t.Fatal(err)
		}
	}

	// Another writer is updating version v.
	insertClaim(v, time.Now())
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("b"), Version: v, Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("Save while another writer holds the claim: error = %v, want ErrConflict", err)
	}
	// A touch is ordered before that write: nothing to do, no error.
	if err := s.Touch(ctx, "k", exp.Add(time.Hour)); err != nil {
		t.Fatalf("Touch while another writer holds the claim: %v", err)
	}
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimID("k", int64(v))}}); err != nil {
		t.Fatal(err)
	}

	// A writer died holding the claim long ago.
	insertClaim(v, time.Now().Add(-2*claimLease))
	v2, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("c"), Version: v, Expiry: exp})
	if err != nil {
		t.Fatalf("Save over a stale claim: %v", err)
	}
	if rec, err := s.Load(ctx, "k"); err != nil || string(rec.Data) != "c" || rec.Version != v2 {
		t.Fatalf("after Save over a stale claim: %q %d %v; want %q %d", rec.Data, rec.Version, err, "c", v2)
	}

	// The sweep deletes stale claims and leaves fresh ones.
	insertClaim(12345, time.Now().Add(-2*claimLease))
	insertClaim(67890, time.Now())
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: fieldClaimed, Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d claims left after DeleteExpired, want 1 (the fresh one)", n)
	}
}

// TestUnguardedSequential runs the plain (MongoDB) write path, without
// claims, through the sequences the conformance suite checks. Its
// atomicity under concurrency rests on MongoDB's single-document
// atomicity, which the FerretDB v1 test server lacks; the sequences do not
// need it.
func TestUnguardedSequential(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{})
	s.guarded = false
	ctx := t.Context()
	hour := time.Now().Add(time.Hour)
	past := time.Now().Add(-time.Second)
	save := func(key string, rec sessionkit.Record) (uint64, error) { return s.Save(ctx, key, rec) }

	v1, err := save("k", sessionkit.Record{Data: []byte("a"), Expiry: hour, UserKey: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := save("k", sessionkit.Record{Data: []byte("again"), Expiry: hour}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	v2, err := save("k", sessionkit.Record{Data: []byte("b"), Version: v1, Expiry: hour, UserKey: "u"})
	if err != nil || v2 == v1 {
		t.Fatalf("update: %d, %v", v2, err)
	}
	if _, err := save("k", sessionkit.Record{Data: []byte("stale"), Version: v1, Expiry: hour}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if _, err := save("missing", sessionkit.Record{Data: []byte("x"), Version: 7, Expiry: hour}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("update of a missing key: %v, want ErrConflict", err)
	}
	if err := s.Touch(ctx, "k", hour.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil || string(rec.Data) != "b" || rec.Version != v2 || !rec.Expiry.Equal(hour.Add(time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("after touch: %+v, %v", rec, err)
	}

	// Expired documents count as absent.
	ve, err := save("old", sessionkit.Record{Data: []byte("x"), Expiry: past, UserKey: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "old"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Load of an expired document: %v, want ErrNotFound", err)
	}
	if err := s.Touch(ctx, "old", hour); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Touch of an expired document: %v, want ErrNotFound", err)
	}
	if _, err := save("old", sessionkit.Record{Data: []byte("y"), Version: ve, Expiry: hour}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("update of an expired document: %v, want ErrConflict", err)
	}
	if _, err := save("old", sessionkit.Record{Data: []byte("new"), Expiry: hour}); err != nil {
		t.Fatalf("create over an expired document: %v", err)
	}

	if _, err := save("gone", sessionkit.Record{Data: []byte("x"), Expiry: past}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteUserSessions(ctx, "u"); err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1 (k; old lost its user)", n, err)
	}
	if err := s.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Collection().CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d documents left, want 0 (%v)", n, err)
	}
}

// TestGuardedForeignDocument checks that the guarded write path copes
// with documents it did not write (no version field), such as
// connect-mongo's in a collection both share: Delete and DeleteExpired
// remove them instead of retrying their delete forever.
func TestGuardedForeignDocument(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{})
	s.guarded = true // whatever the server
	// A deadline only so that the bug fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	foreign := func(id string, expires time.Time) {
		t.Helper()
		if _, err := s.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: "{}"}, {Key: "expires", Value: expires}}); err != nil {
			t.Fatal(err)
		}
	}
	foreign("live", time.Now().Add(time.Hour))
	foreign("gone", time.Now().Add(-time.Hour))
	if err := s.Delete(ctx, "live"); err != nil {
		t.Fatalf("Delete of a document without a version: %v", err)
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatalf("DeleteExpired over a document without a version: %v", err)
	}
	for _, id := range []string{"live", "gone"} {
		if n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}}); err != nil || n != 0 {
			t.Errorf("document %q: %d left (%v), want it deleted", id, n, err)
		}
	}
}
