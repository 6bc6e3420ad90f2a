package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storetest"
)

func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestLifetime runs the client-side lifetime journeys.
func TestLifetime(t *testing.T) {
	storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
		return sessionkit.New(openTemp(t))
	})
}

func TestConformance(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			return openTemp(t)
		})
	})
	// A sweeper running all the time must not disturb anything.
	t.Run("BusySweeper", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			return openTemp(t, WithSweepInterval(5*time.Millisecond))
		})
	})
	// Stores sharing one caller-owned DB under different buckets.
	t.Run("SharedDB", func(t *testing.T) {
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		n := 0
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			n++
			s, err := New(db, WithBucket(fmt.Sprintf("sessions-%d", n)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bucketLens counts the raw entries of the store's three buckets.
func bucketLens(t *testing.T, s *Store) (sessions, expiry, users int) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		sessions = b.sessions.Stats().KeyN
		expiry = b.expiry.Stats().KeyN
		users = b.users.Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sessions, expiry, users
}

func TestExpiryIndex(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(0))
	ctx := t.Context()
	now := clk.Now()
	// Expiries out of key order, one of them before 1970 (negative Unix
	// milliseconds) to check the index sorts signed values.
	recs := []struct {
		key    string
		expiry time.Time
		user   string
	}{
		{"c", now.Add(3 * time.Minute), "u1"},
		{"a", now.Add(1 * time.Minute), "u1"},
		{"d", now.Add(10 * time.Minute), ""},
		{"b", now.Add(2 * time.Minute), "u2"},
		{"z", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "u2"},
	}
	for _, r := range recs {
		if _, err := s.Save(ctx, r.key, sessionkit.Record{Data: []byte(r.key), Expiry: r.expiry, UserKey: r.user}); err != nil {
			t.Fatal(err)
		}
	}
	if ss, es, us := bucketLens(t, s); ss != 5 || es != 5 || us != 4 {
		t.Fatalf("buckets hold %d sessions, %d expiry and %d user entries; want 5, 5, 4", ss, es, us)
	}
	steps := []struct {
		advance     time.Duration
		wantRemoved int
		wantLive    []string
	}{
		{0, 1, []string{"a", "b", "c", "d"}},
		{time.Minute - time.Millisecond, 0, []string{"a", "b", "c", "d"}},
		{time.Millisecond, 1, []string{"b", "c", "d"}}, // exactly at a's expiry: gone
		{2 * time.Minute, 2, []string{"d"}},
		{time.Hour, 1, nil},
	}
	for i, st := range steps {
		clk.Add(st.advance)
		var live []string
		for _, k := range []string{"a", "b", "c", "d", "z"} {
			_, err := s.Load(ctx, k)
			switch {
			case err == nil:
				live = append(live, k)
			case !errors.Is(err, sessionkit.ErrNotFound):
				t.Fatalf("step %d: Load(%s): %v", i, k, err)
			}
		}
		if !slices.Equal(live, st.wantLive) {
			t.Fatalf("step %d: live before sweep = %v, want %v", i, live, st.wantLive)
		}
		n, err := s.DeleteExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != st.wantRemoved {
			t.Errorf("step %d: DeleteExpired = %d, want %d", i, n, st.wantRemoved)
		}
		if ss, es, _ := bucketLens(t, s); ss != len(st.wantLive) || es != len(st.wantLive) {
			t.Errorf("step %d: %d sessions and %d expiry entries remain, want %d", i, ss, es, len(st.wantLive))
		}
	}
	if ss, es, us := bucketLens(t, s); ss+es+us != 0 {
		t.Fatalf("after expiring everything: %d sessions, %d expiry, %d user entries remain", ss, es, us)
	}
}

func TestTouchMovesExpiryEntry(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(0))
	ctx := t.Context()
	v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: clk.Now().Add(time.Minute), UserKey: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "k", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Minute)
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("DeleteExpired after touch = %d, %v; want 0 (the old expiry entry must be gone)", n, err)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil || rec.Version != v || string(rec.Data) != "x" {
		t.Fatalf("Load = %+v, %v", rec, err)
	}
	if ss, es, us := bucketLens(t, s); ss != 1 || es != 1 || us != 1 {
		t.Fatalf("buckets hold %d/%d/%d entries, want 1/1/1", ss, es, us)
	}
}

func TestSweeperRemovesExpired(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(time.Millisecond))
	ctx := t.Context()
	for i := range 3 {
		_, err := s.Save(ctx, fmt.Sprint(i), sessionkit.Record{Data: []byte("x"), Expiry: clk.Now().Add(time.Minute), UserKey: "u"})
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Hour)
	// Wait for the background sweeper (every millisecond) to do its work;
	// the deadline only turns "never" into a clear failure.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ss, es, us := bucketLens(t, s)
		if ss+es+us == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeper never ran: %d sessions, %d expiry and %d user entries left", ss, es, us)
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close released the file.
	s2, err := Open(s.path, WithLockTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	s2.Close()
}

func TestUserKeysThatPrefixEachOther(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	users := []string{"a", "ab", "a\x00b", "\x01a", "b", strings.Repeat("u", 200)}
	for i, u := range users {
		for j := range 2 {
			key := fmt.Sprintf("s%d-%d", i, j)
			if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(u), Expiry: exp, UserKey: u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, u := range users {
		entries, err := s.UserSessions(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range entries {
			keys = append(keys, e.Key)
		}
		slices.Sort(keys)
		if want := []string{fmt.Sprintf("s%d-0", i), fmt.Sprintf("s%d-1", i)}; !slices.Equal(keys, want) {
			t.Errorf("UserSessions(%q) = %v, want %v", u, keys, want)
		}
	}
	n, err := s.DeleteUserSessions(ctx, "a")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions(a) = %d, %v; want 2", n, err)
	}
	for _, u := range users[1:] {
		if entries, _ := s.UserSessions(ctx, u); len(entries) != 2 {
			t.Errorf("deleting user a touched user %q: %d sessions left", u, len(entries))
		}
	}
}

func TestAllPagesAndYieldMayWrite(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	ctx := t.Context()
	const n = 3*iterPageSize + 7
	var want []string
	var wg sync.WaitGroup
	for i := range n {
		key := fmt.Sprintf("k%05d", i)
		exp := time.Now().Add(time.Hour)
		if i%10 == 0 {
			exp = time.Now().Add(-time.Hour) // expired: never yielded
		} else {
			want = append(want, key)
		}
		wg.Go(func() {
			if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(key), Expiry: exp}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var got []string
	deleted := 0
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Record.Data) != e.Key {
			t.Fatalf("entry %q has data %q", e.Key, e.Record.Data)
		}
		got = append(got, e.Key)
		// yield runs outside any transaction, so it may write; this
		// would deadlock if All held a read transaction.
		if len(got)%100 == 1 {
			if err := s.Delete(ctx, e.Key); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("All yielded %d keys, want %d in key order", len(got), len(want))
	}
	if ss, _, _ := bucketLens(t, s); ss != n-deleted {
		t.Fatalf("%d records left, want %d", ss, n-deleted)
	}
}

func TestNewLeavesDBOpen(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "app.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db, WithBucket("web-sessions"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(t.Context(), "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("web-sessions")) == nil {
			return errors.New("bucket web-sessions missing")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("db after Store.Close: %v", err)
	}
	// A second store over the same DB sees the record.
	s2, err := New(db, WithBucket("web-sessions"), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rec, err := s2.Load(t.Context(), "k"); err != nil || string(rec.Data) != "x" {
		t.Fatalf("Load through a new Store = %q, %v", rec.Data, err)
	}
}

func TestOpenCreatesParentDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %v, want 0600", perm)
	}
	// Reopening keeps the data layout.
	s, err = Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not-a-db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, notDB} {
		_, err := Open(path, WithSweepInterval(0))
		if err == nil {
			t.Fatalf("Open(%s) succeeded", path)
		}
		if !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "boltstore: open ") {
			t.Errorf("Open(%s) error %q does not name the file", path, err)
		}
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return b.sessions.Put([]byte("bad"), []byte{9, 9, 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(t.Context(), "bad")
	if err == nil || errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Load of a corrupt record = %v, want a corruption error", err)
	}
	// Delete still gets rid of it.
	if err := s.Delete(t.Context(), "bad"); err != nil {
		t.Fatalf("Delete of a corrupt record: %v", err)
	}
	if _, err := s.Load(t.Context(), "bad"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
	}
}

func TestSweepDropsCorruptRecord(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(0))
	ctx := t.Context()
	for _, k := range []string{"bad", "good"} {
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte("x"), Expiry: clk.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return b.sessions.Put([]byte("bad"), []byte("garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatalf("DeleteExpired with a corrupt record: %v", err)
	}
	if ss, es, _ := bucketLens(t, s); ss != 0 || es != 0 {
		t.Fatalf("%d sessions and %d expiry entries left, want none", ss, es)
	}
}

func TestRecordEncoding(t *testing.T) {
	tests := []struct {
		name     string
		version  uint64
		expiryMs int64
		user     string
		data     []byte
	}{
		{"empty", 1, 0, "", nil},
		{"negative expiry", 2, -62135596800000, "u", []byte("x")},
		{"max", ^uint64(0), 1<<63 - 1, strings.Repeat("u", 300), bytes.Repeat([]byte{0}, 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeRecord(encodeRecord(tc.version, tc.expiryMs, tc.user, tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if r.version != tc.version || r.expiryMs != tc.expiryMs || r.userKey != tc.user || !bytes.Equal(r.data, tc.data) {
				t.Fatalf("round trip = %+v", r)
			}
		})
	}
	badFormat := encodeRecord(1, 0, "", nil)
	badFormat[0] = 2
	shortUser := append(encodeRecord(1, 0, "", nil)[:headerLen], 5, 'u')
	for _, bad := range [][]byte{nil, {recordFormat}, badFormat, shortUser} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%v) succeeded", bad)
		}
	}
	// Expiry keys sort like their times.
	times := []int64{-5000, -1, 0, 1, 5000, 1 << 50}
	for i := 1; i < len(times); i++ {
		if bytes.Compare(expiryKey(times[i-1], "z"), expiryKey(times[i], "a")) >= 0 {
			t.Errorf("expiry key of %d does not sort before %d", times[i-1], times[i])
		}
		if ms, key, ok := splitExpiryKey(expiryKey(times[i], "k")); !ok || ms != times[i] || string(key) != "k" {
			t.Errorf("splitExpiryKey(expiryKey(%d)) = %d, %q, %v", times[i], ms, key, ok)
		}
	}
}

// TestNoCreate: with WithNoCreate, a file without the store's bucket is an
// error that wraps ErrNoBucket, and the file is left without it; a file
// that has it opens as usual.
func TestNoCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, WithNoCreate(), WithBucket("other")); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("Open of a file without the bucket = %v, want ErrNoBucket", err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("other")) != nil {
			t.Error("Open with WithNoCreate created the bucket")
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, WithNoCreate(), WithSweepInterval(0))
	if err != nil {
		t.Fatalf("Open of a file with the bucket: %v", err)
	}
	s.Close()
}
