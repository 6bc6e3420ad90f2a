// Package storetest is the conformance suite for sessionkit.Store
// implementations. Every store in this module runs it, and so can any
// third-party store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sessionkit.Store {
//			s := mystore.New(...) // fresh, empty, isolated
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The factory is called once per subtest and must return a store that is
// empty and shares no keys with any other store the factory returned (use a
// unique key prefix, table or collection), because subtests and packages may
// run in parallel against one server.
//
// Optional capabilities (sessionkit.UserIndex, sessionkit.Iterator,
// sessionkit.Sweeper) are tested when the store implements them. Expiry is
// tested against the wall clock: stores must honour Record.Expiry with at
// least millisecond precision, so a few subtests wait for under a second.
//
// Beyond Run: RunFaults takes a database server down under a store;
// RunCrash kills a process writing to an embedded store's file and checks
// that nothing acknowledged was lost; RunProcesses has several processes
// update one record of a shared file at once and checks that no update
// was lost; BenchmarkMiddleware compares stores on whole requests.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Factory returns a fresh, empty, isolated store. It should register any
// cleanup with t.Cleanup.
type Factory func(t *testing.T) sessionkit.Store

// Run runs the whole conformance suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, sessionkit.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoadMissing", testLoadMissing},
		{"CreateOnlyOnce", testCreateOnlyOnce},
		{"CompareAndSwap", testCompareAndSwap},
		{"VersionOnMissingKey", testVersionOnMissingKey},
		{"ExpiredInThePast", testExpiredInThePast},
		{"ExpiresWhileStored", testExpiresWhileStored},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"ConcurrentCreate", testConcurrentCreate},
		{"NoLostUpdates", testNoLostUpdates},
		{"Values", testValues},
		{"Keys", testKeys},
		{"KeysCompareByteByByte", testKeysCompareByteByByte},
		{"Cancelled", testCancelled},
		{"UserIndex", testUserIndex},
		{"UserIndexConcurrent", testUserIndexConcurrent},
		{"Iterator", testIterator},
		{"Sweeper", testSweeper},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const opTimeout = 10 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// hourFromNow is a comfortably live expiry with millisecond precision.
func hourFromNow() time.Time {
	return time.Now().Add(time.Hour).Truncate(time.Millisecond)
}

func mustSave(t *testing.T, s sessionkit.Store, key string, rec sessionkit.Record) uint64 {
	t.Helper()
	v, err := s.Save(ctxFor(t), key, rec)
	if err != nil {
		t.Fatalf("Save(%q, version %d): %v", key, rec.Version, err)
	}
	if v == 0 {
		t.Fatalf("Save(%q) returned version 0, which is reserved for 'not stored'", key)
	}
	return v
}

func mustLoad(t *testing.T, s sessionkit.Store, key string) sessionkit.Record {
	t.Helper()
	rec, err := s.Load(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return rec
}

// beforeExpiry runs steps that must finish before a short expiry, and
// returns that expiry. A slow store or a busy machine can make the steps
// themselves outlast a short window, which is not the failure under test:
// when they fail and the window has already passed, beforeExpiry runs them
// again with a window twice as long, up to 6.4 s. steps must therefore be
// safe to repeat once their records have expired (create with Version 0).
func beforeExpiry(t *testing.T, steps func(expiry time.Time) error) time.Time {
	t.Helper()
	for window := 200 * time.Millisecond; ; window *= 2 {
		exp := time.Now().Add(window).Truncate(time.Millisecond)
		err := steps(exp)
		if err == nil {
			return exp
		}
		if time.Now().Before(exp) || window >= 6400*time.Millisecond {
			t.Fatal(err)
		}
		t.Logf("steps outlasted a %v expiry (%v); again with a longer one", window, err)
	}
}

func wantNotFound(t *testing.T, s sessionkit.Store, key string) {
	t.Helper()
	_, err := s.Load(ctxFor(t), key)
	if !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Load(%q) error = %v, want ErrNotFound", key, err)
	}
}

func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Millisecond && d < time.Millisecond
}

func testRoundTrip(t *testing.T, s sessionkit.Store) {
	exp := hourFromNow()
	in := sessionkit.Record{Data: []byte(`{"n":1}`), Expiry: exp, UserKey: "user-1"}
	v := mustSave(t, s, "k1", in)
	got := mustLoad(t, s, "k1")
	if !bytes.Equal(got.Data, in.Data) {
		t.Errorf("Data = %q, want %q", got.Data, in.Data)
	}
	if got.Version != v {
		t.Errorf("Version = %d, want %d (as returned by Save)", got.Version, v)
	}
	if !sameInstant(got.Expiry, exp) {
		t.Errorf("Expiry = %v, want %v (millisecond precision)", got.Expiry, exp)
	}
	if got.UserKey != "user-1" {
		t.Errorf("UserKey = %q, want %q", got.UserKey, "user-1")
	}
	// Saving the loaded record back with changed data must work and
	// produce a new version.
	got.Data = []byte(`{"n":2}`)
	got.UserKey = ""
	v2 := mustSave(t, s, "k1", got)
	if v2 == v {
		t.Errorf("second Save returned the same version %d", v)
	}
	again := mustLoad(t, s, "k1")
	if string(again.Data) != `{"n":2}` || again.Version != v2 || again.UserKey != "" {
		t.Errorf("after update got data %q version %d user %q; want {\"n\":2} %d \"\"", again.Data, again.Version, again.UserKey, v2)
	}
}

func testLoadMissing(t *testing.T, s sessionkit.Store) {
	wantNotFound(t, s, "never-saved")
}

func testCreateOnlyOnce(t *testing.T, s sessionkit.Store) {
	rec := sessionkit.Record{Data: []byte("first"), Expiry: hourFromNow()}
	mustSave(t, s, "k", rec)
	rec.Data = []byte("second")
	if _, err := s.Save(ctxFor(t), "k", rec); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("second create (version 0) error = %v, want ErrConflict", err)
	}
	if got := mustLoad(t, s, "k"); string(got.Data) != "first" {
		t.Fatalf("a conflicting create overwrote the data: %q", got.Data)
	}
}

func testCompareAndSwap(t *testing.T, s sessionkit.Store) {
	v1 := mustSave(t, s, "k", sessionkit.Record{Data: []byte("a"), Expiry: hourFromNow()})
	v2 := mustSave(t, s, "k", sessionkit.Record{Data: []byte("b"), Version: v1, Expiry: hourFromNow()})
	if v2 == v1 {
		t.Fatalf("update returned unchanged version %d", v1)
	}
	// A writer still holding v1 must lose.
	_, err := s.Save(ctxFor(t), "k", sessionkit.Record{Data: []byte("stale"), Version: v1, Expiry: hourFromNow()})
	if !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("stale Save error = %v, want ErrConflict", err)
	}
	got := mustLoad(t, s, "k")
	if string(got.Data) != "b" || got.Version != v2 {
		t.Fatalf("after stale Save: data %q version %d, want %q %d", got.Data, got.Version, "b", v2)
	}
}

func testVersionOnMissingKey(t *testing.T, s sessionkit.Store) {
	_, err := s.Save(ctxFor(t), "missing", sessionkit.Record{Data: []byte("x"), Version: 7, Expiry: hourFromNow()})
	if !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("Save with version 7 on a missing key: error = %v, want ErrConflict", err)
	}
	wantNotFound(t, s, "missing")
}

func testExpiredInThePast(t *testing.T, s sessionkit.Store) {
	past := time.Now().Add(-time.Minute)
	if _, err := s.Save(ctxFor(t), "old", sessionkit.Record{Data: []byte("x"), Expiry: past}); err != nil {
		t.Fatalf("Save with a past expiry: %v (must be accepted, and then not found)", err)
	}
	wantNotFound(t, s, "old")
	if err := s.Touch(ctxFor(t), "old", hourFromNow()); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Touch of an expired record: error = %v, want ErrNotFound", err)
	}
	wantNotFound(t, s, "old")
	// An expired record counts as absent: creating anew must succeed.
	mustSave(t, s, "old", sessionkit.Record{Data: []byte("new"), Expiry: hourFromNow()})
	if got := mustLoad(t, s, "old"); string(got.Data) != "new" {
		t.Fatalf("recreated record data = %q, want %q", got.Data, "new")
	}
}

func testExpiresWhileStored(t *testing.T, s sessionkit.Store) {
	var v uint64
	exp := beforeExpiry(t, func(exp time.Time) error {
		var err error
		if v, err = s.Save(ctxFor(t), "short", sessionkit.Record{Data: []byte("x"), Expiry: exp, UserKey: "u"}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if _, err := s.Load(ctxFor(t), "short"); err != nil {
			return fmt.Errorf("load before expiry: %w", err)
		}
		return nil
	})
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	// Expired but perhaps not yet swept: must still read as gone.
	wantNotFound(t, s, "short")
	if _, err := s.Save(ctxFor(t), "short", sessionkit.Record{Data: []byte("y"), Version: v, Expiry: hourFromNow()}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("Save with the version of an expired record: error = %v, want ErrConflict", err)
	}
	mustSave(t, s, "short", sessionkit.Record{Data: []byte("z"), Expiry: hourFromNow()})
	if got := mustLoad(t, s, "short"); string(got.Data) != "z" {
		t.Fatalf("data = %q, want %q", got.Data, "z")
	}
}

func testTouch(t *testing.T, s sessionkit.Store) {
	if err := s.Touch(ctxFor(t), "missing", hourFromNow()); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Touch(missing) error = %v, want ErrNotFound", err)
	}
	v := mustSave(t, s, "k", sessionkit.Record{Data: []byte("data"), Expiry: time.Now().Add(time.Minute), UserKey: "u"})
	later := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	if err := s.Touch(ctxFor(t), "k", later); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	got := mustLoad(t, s, "k")
	if !sameInstant(got.Expiry, later) {
		t.Errorf("Expiry after Touch = %v, want %v", got.Expiry, later)
	}
	if got.Version != v || string(got.Data) != "data" || got.UserKey != "u" {
		t.Errorf("Touch changed more than the expiry: version %d→%d data %q user %q", v, got.Version, got.Data, got.UserKey)
	}
	// The version is unchanged, so a writer that read before the touch
	// still wins its compare-and-swap.
	mustSave(t, s, "k", sessionkit.Record{Data: []byte("after"), Version: v, Expiry: later})

	// Touching into the past ends the session.
	if err := s.Touch(ctxFor(t), "k", time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Touch into the past: %v", err)
	}
	wantNotFound(t, s, "k")
}

func testDelete(t *testing.T, s sessionkit.Store) {
	if err := s.Delete(ctxFor(t), "missing"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	v := mustSave(t, s, "k", sessionkit.Record{Data: []byte("x"), Expiry: hourFromNow()})
	if err := s.Delete(ctxFor(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k")
	if _, err := s.Save(ctxFor(t), "k", sessionkit.Record{Data: []byte("y"), Version: v, Expiry: hourFromNow()}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("Save with the version of a deleted record: error = %v, want ErrConflict", err)
	}
	mustSave(t, s, "k", sessionkit.Record{Data: []byte("z"), Expiry: hourFromNow()})
	if err := s.Delete(ctxFor(t), "k"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := s.Delete(ctxFor(t), "k"); err != nil {
		t.Fatalf("Delete twice: %v", err)
	}
}

func testConcurrentCreate(t *testing.T, s sessionkit.Store) {
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range n {
		wg.Go(func() {
			_, err := s.Save(ctxFor(t), "race", sessionkit.Record{Data: fmt.Appendf(nil, "%d", i), Expiry: hourFromNow()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, sessionkit.ErrConflict):
				conflicts++
			default:
				t.Errorf("concurrent create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("%d goroutines created one key: %d won, %d conflicted; want exactly 1 winner", n, wins, conflicts)
	}
}

// testNoLostUpdates runs read-modify-write loops with compare-and-swap
// retries from many goroutines, each adding its own member to a set; every
// member must be present at the end.
func testNoLostUpdates(t *testing.T, s sessionkit.Store) {
	const workers = 50
	mustSave(t, s, "shared", sessionkit.Record{Data: []byte(`[]`), Expiry: hourFromNow()})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for attempt := 0; ; attempt++ {
				if attempt > 1000 {
					t.Errorf("worker %d: no success after 1000 attempts", w)
					return
				}
				rec, err := s.Load(ctxFor(t), "shared")
				if err != nil {
					t.Errorf("worker %d: Load: %v", w, err)
					return
				}
				var set []int
				if err := json.Unmarshal(rec.Data, &set); err != nil {
					t.Errorf("worker %d: stored data is corrupt: %q: %v", w, rec.Data, err)
					return
				}
				rec.Data, _ = json.Marshal(append(set, w))
				_, err = s.Save(ctxFor(t), "shared", rec)
				if err == nil {
					return
				}
				if !errors.Is(err, sessionkit.ErrConflict) {
					t.Errorf("worker %d: Save: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var set []int
	if err := json.Unmarshal(mustLoad(t, s, "shared").Data, &set); err != nil {
		t.Fatal(err)
	}
	slices.Sort(set)
	if len(set) != workers {
		t.Fatalf("%d workers each added one member; %d survived: %v", workers, len(set), set)
	}
	for i, v := range set {
		if v != i {
			t.Fatalf("members = %v, want 0..%d each once", set, workers-1)
		}
	}
}

func testValues(t *testing.T, s sessionkit.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 1<<20)
	rand.Read(big)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"every byte value", all},
		{"NUL bytes", []byte("a\x00b\x00")},
		{"invalid UTF-8", []byte{0xff, 0xfe, 0xc3, 0x28}},
		{"one MiB random", big},
		{"JSON with unicode", []byte(`{"name":"Zoë \u2028 日本"}`)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("value-%d", i)
			mustSave(t, s, key, sessionkit.Record{Data: tc.data, Expiry: hourFromNow()})
			if got := mustLoad(t, s, key); !bytes.Equal(got.Data, tc.data) {
				t.Fatalf("round trip changed %d bytes into %d bytes", len(tc.data), len(got.Data))
			}
		})
	}
}

func testKeys(t *testing.T, s sessionkit.Store) {
	keys := []string{
		"a", "ab", "abc", // prefixes of each other
		"eAv6d5Wv8gqUeXqJ9kJ1cJ3mVQ2rGq0h2m6f3lq8PZs", // a typical derived key
		"with:colon", "{brace}", "}{", "per%cent", "sl/ash", "back\\slash",
		"dot.dot", "star*", "quote'\"", "~!@#$^&()+=[]|;<>?,`",
		strings.Repeat("k", 256),
	}
	for i, k := range keys {
		mustSave(t, s, k, sessionkit.Record{Data: fmt.Appendf(nil, "%d", i), Expiry: hourFromNow()})
	}
	for i, k := range keys {
		if got := mustLoad(t, s, k); string(got.Data) != fmt.Sprint(i) {
			t.Errorf("Load(%q) = %q, want %q (keys collide?)", k, got.Data, fmt.Sprint(i))
		}
	}
	if err := s.Delete(ctxFor(t), "ab"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "ab")
	mustLoad(t, s, "a")
	mustLoad(t, s, "abc")
}

// testKeysCompareByteByByte: keys, and user keys in the user index,
// that differ only in case, trailing whitespace or an accent are different
// (a case-insensitive or padding collation in a SQL store would merge them).
func testKeysCompareByteByByte(t *testing.T, s sessionkit.Store) {
	keys := []string{"ab", "Ab", "AB", "ab ", "äb", "ab\t"}
	users := []string{"alice", "Alice", "alice ", "ALICE", "alicE", "alíce"}
	for i, k := range keys {
		mustSave(t, s, k, sessionkit.Record{Data: []byte(k), Expiry: hourFromNow(), UserKey: users[i]})
	}
	for i, k := range keys {
		if rec := mustLoad(t, s, k); string(rec.Data) != k || rec.UserKey != users[i] {
			t.Errorf("Load(%q) = %q user %q; want its own record", k, rec.Data, rec.UserKey)
		}
	}
	idx, ok := s.(sessionkit.UserIndex)
	if !ok {
		return
	}
	for i, k := range keys {
		entries, err := idx.UserSessions(ctxFor(t), users[i])
		if err != nil || len(entries) != 1 || entries[0].Key != k {
			t.Errorf("UserSessions(%q) = %v, %v; want only %q", users[i], keysOf(entries), err, k)
		}
	}
	if n, err := idx.DeleteUserSessions(ctxFor(t), "alice"); err != nil || n != 1 {
		t.Errorf(`DeleteUserSessions("alice") = %d, %v; want 1`, n, err)
	}
}

func testCancelled(t *testing.T, s sessionkit.Store) {
	mustSave(t, s, "k", sessionkit.Record{Data: []byte("x"), Expiry: hourFromNow()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", op)
			return
		}
		if errors.Is(err, sessionkit.ErrNotFound) || errors.Is(err, sessionkit.ErrConflict) {
			t.Errorf("%s with a cancelled context: %v; want a context error, not a store answer", op, err)
		}
	}
	_, err := s.Load(ctx, "k")
	check("Load", err)
	_, err = s.Save(ctx, "k2", sessionkit.Record{Data: []byte("x"), Expiry: hourFromNow()})
	check("Save", err)
	check("Touch", s.Touch(ctx, "k", hourFromNow()))
	check("Delete", s.Delete(ctx, "k"))
	// Nothing above may have happened.
	mustLoad(t, s, "k")
	wantNotFound(t, s, "k2")
}

func keysOf(entries []sessionkit.Entry) []string {
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	return keys
}

func testUserIndex(t *testing.T, s sessionkit.Store) {
	idx, ok := s.(sessionkit.UserIndex)
	if !ok {
		t.Skip("store does not implement sessionkit.UserIndex")
	}
	list := func(user string) []string {
		t.Helper()
		entries, err := idx.UserSessions(ctxFor(t), user)
		if err != nil {
			t.Fatalf("UserSessions(%q): %v", user, err)
		}
		for _, e := range entries {
			if e.Record.UserKey != user {
				t.Errorf("UserSessions(%q) returned %q owned by %q", user, e.Key, e.Record.UserKey)
			}
			if len(e.Record.Data) == 0 || e.Record.Version == 0 {
				t.Errorf("UserSessions(%q) returned %q without its record", user, e.Key)
			}
		}
		return keysOf(entries)
	}
	if got := list("nobody"); len(got) != 0 {
		t.Fatalf("unknown user has sessions %v", got)
	}
	versions := map[string]uint64{}
	for _, k := range []string{"a1", "a2", "a3"} {
		versions[k] = mustSave(t, s, k, sessionkit.Record{Data: []byte(k), Expiry: hourFromNow(), UserKey: "alice"})
	}
	mustSave(t, s, "b1", sessionkit.Record{Data: []byte("b1"), Expiry: hourFromNow(), UserKey: "bob"})
	mustSave(t, s, "anon", sessionkit.Record{Data: []byte("anon"), Expiry: hourFromNow()})
	mustSave(t, s, "gone", sessionkit.Record{Data: []byte("gone"), Expiry: time.Now().Add(-time.Second), UserKey: "alice"})

	if got, want := list("alice"), []string{"a1", "a2", "a3"}; !slices.Equal(got, want) {
		t.Fatalf("alice's sessions = %v, want %v (expired ones excluded)", got, want)
	}
	// Moving a session to another user moves its index entry.
	versions["a3"] = mustSave(t, s, "a3", sessionkit.Record{Data: []byte("a3"), Version: versions["a3"], Expiry: hourFromNow(), UserKey: "bob"})
	if got, want := list("alice"), []string{"a1", "a2"}; !slices.Equal(got, want) {
		t.Fatalf("after moving a3: alice = %v, want %v", got, want)
	}
	if got, want := list("bob"), []string{"a3", "b1"}; !slices.Equal(got, want) {
		t.Fatalf("after moving a3: bob = %v, want %v", got, want)
	}
	// Logging out (clearing the user) removes the entry.
	mustSave(t, s, "a2", sessionkit.Record{Data: []byte("a2"), Version: versions["a2"], Expiry: hourFromNow()})
	if got, want := list("alice"), []string{"a1"}; !slices.Equal(got, want) {
		t.Fatalf("after clearing a2's user: alice = %v, want %v", got, want)
	}
	// Delete removes the entry.
	if err := s.Delete(ctxFor(t), "a1"); err != nil {
		t.Fatal(err)
	}
	if got := list("alice"); len(got) != 0 {
		t.Fatalf("after deleting a1: alice = %v, want none", got)
	}
	// An entry whose record expired while stored is not listed.
	mustSave(t, s, "brief", sessionkit.Record{Data: []byte("brief"), Expiry: time.Now().Add(200 * time.Millisecond), UserKey: "carol"})
	mustSave(t, s, "lasting", sessionkit.Record{Data: []byte("lasting"), Expiry: hourFromNow(), UserKey: "carol"})
	time.Sleep(300 * time.Millisecond)
	if got, want := list("carol"), []string{"lasting"}; !slices.Equal(got, want) {
		t.Fatalf("carol = %v, want %v (the expired session excluded)", got, want)
	}

	// A session kept alive by Touch past its first expiry stays listed.
	exp := beforeExpiry(t, func(exp time.Time) error {
		if _, err := s.Save(ctxFor(t), "touched", sessionkit.Record{Data: []byte("touched"), Expiry: exp, UserKey: "frank"}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if err := s.Touch(ctxFor(t), "touched", hourFromNow()); err != nil {
			return fmt.Errorf("touch: %w", err)
		}
		return nil
	})
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	if got, want := list("frank"), []string{"touched"}; !slices.Equal(got, want) {
		t.Fatalf("frank = %v, want %v (a touched session dropped out of the index)", got, want)
	}

	n, err := idx.DeleteUserSessions(ctxFor(t), "bob")
	if err != nil {
		t.Fatalf("DeleteUserSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteUserSessions(bob) = %d, want 2", n)
	}
	wantNotFound(t, s, "a3")
	wantNotFound(t, s, "b1")
	mustLoad(t, s, "anon")
	mustLoad(t, s, "lasting")
	if got := list("bob"); len(got) != 0 {
		t.Fatalf("bob after DeleteUserSessions = %v", got)
	}
	// Only live sessions are counted: carol's "brief" expired above.
	if n, err := idx.DeleteUserSessions(ctxFor(t), "carol"); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions(carol) = %d, %v; want 1, nil (her expired session is not counted)", n, err)
	}
	wantNotFound(t, s, "lasting")
	if n, err := idx.DeleteUserSessions(ctxFor(t), "nobody"); err != nil || n != 0 {
		t.Fatalf("DeleteUserSessions(nobody) = %d, %v; want 0, nil", n, err)
	}
}

func testUserIndexConcurrent(t *testing.T, s sessionkit.Store) {
	idx, ok := s.(sessionkit.UserIndex)
	if !ok {
		t.Skip("store does not implement sessionkit.UserIndex")
	}
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("dev-%02d", i)
			v, err := s.Save(ctxFor(t), key, sessionkit.Record{Data: []byte("x"), Expiry: hourFromNow(), UserKey: "dave"})
			if err != nil {
				t.Errorf("Save %s: %v", key, err)
				return
			}
			// Every third session logs out again, every fifth is deleted.
			switch {
			case i%3 == 0:
				_, err = s.Save(ctxFor(t), key, sessionkit.Record{Data: []byte("y"), Version: v, Expiry: hourFromNow()})
			case i%5 == 0:
				err = s.Delete(ctxFor(t), key)
			}
			if err != nil {
				t.Errorf("update %s: %v", key, err)
			}
		})
	}
	wg.Wait()
	var want []string
	for i := range n {
		if i%3 != 0 && i%5 != 0 {
			want = append(want, fmt.Sprintf("dev-%02d", i))
		}
	}
	entries, err := idx.UserSessions(ctxFor(t), "dave")
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(entries); !slices.Equal(got, want) {
		t.Fatalf("after concurrent logins/logouts: dave = %v\nwant %v", got, want)
	}
}

func testIterator(t *testing.T, s sessionkit.Store) {
	it, ok := s.(sessionkit.Iterator)
	if !ok {
		t.Skip("store does not implement sessionkit.Iterator")
	}
	const n = 25
	var want []string
	for i := range n {
		k := fmt.Sprintf("it-%02d", i)
		want = append(want, k)
		mustSave(t, s, k, sessionkit.Record{Data: []byte(k), Expiry: hourFromNow(), UserKey: fmt.Sprint(i % 3)})
	}
	mustSave(t, s, "it-expired", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second)})
	var got []string
	for e, err := range it.All(ctxFor(t)) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		if string(e.Record.Data) != e.Key || e.Record.Version == 0 || e.Record.Expiry.IsZero() {
			t.Errorf("All yielded %q with record %+v", e.Key, e.Record)
		}
		got = append(got, e.Key)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("All yielded %v\nwant %v", got, want)
	}
	count := 0
	for _, err := range it.All(ctxFor(t)) {
		if err != nil {
			t.Fatal(err)
		}
		count++
		if count == 3 {
			break
		}
	}
	if count != 3 {
		t.Fatalf("early break: got %d", count)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var sawErr bool
	for _, err := range it.All(ctx) {
		if err != nil {
			sawErr = true
			break
		}
	}
	if !sawErr {
		t.Fatal("All with a cancelled context yielded no error")
	}
}

func testSweeper(t *testing.T, s sessionkit.Store) {
	sw, ok := s.(sessionkit.Sweeper)
	if !ok {
		t.Skip("store does not implement sessionkit.Sweeper")
	}
	for i := range 5 {
		mustSave(t, s, fmt.Sprintf("old-%d", i), sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second), UserKey: "erin"})
	}
	mustSave(t, s, "live", sessionkit.Record{Data: []byte("x"), Expiry: hourFromNow(), UserKey: "erin"})
	n, err := sw.DeleteExpired(ctxFor(t))
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	// A background sweeper may have removed some already.
	if n < 0 || n > 5 {
		t.Errorf("DeleteExpired = %d, want between 0 and 5", n)
	}
	if n, err := sw.DeleteExpired(ctxFor(t)); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	mustLoad(t, s, "live")
	if idx, ok := s.(sessionkit.UserIndex); ok {
		entries, err := idx.UserSessions(ctxFor(t), "erin")
		if err != nil {
			t.Fatal(err)
		}
		if got := keysOf(entries); !slices.Equal(got, []string{"live"}) {
			t.Fatalf("erin after sweep = %v, want [live]", got)
		}
	}
}
