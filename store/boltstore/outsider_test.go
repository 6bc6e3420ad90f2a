package boltstore_test

// Outside-in acceptance checks of boltstore, written from its package
// documentation: each test names the sentence it pins.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// settableClock can be set back as well as forward.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func open(t *testing.T, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Save: "Versions come from one counter per store, so a key never sees a
// version twice" — not after a Delete, nor after the record expired.
func TestOutsiderVersionsNeverRepeat(t *testing.T) {
	clk := &settableClock{t: time.Now()}
	s := open(t, boltstore.WithClock(clk.Now), boltstore.WithSweepInterval(0))
	ctx := context.Background()
	seen := map[uint64]bool{}
	record := func(ttl time.Duration) sessionkit.Record {
		return sessionkit.Record{Data: []byte("x"), Expiry: clk.Now().Add(ttl)}
	}
	for round := range 3 {
		v, err := s.Save(ctx, "k", record(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if seen[v] {
			t.Fatalf("round %d: version %d again", round, v)
		}
		seen[v] = true
		if round%2 == 0 {
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		} else {
			clk.Set(clk.Now().Add(2 * time.Minute))
		}
	}
	// "Delete removes the record under key ... A missing key is not an error."
	if err := s.Delete(ctx, "never-saved"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
}

// DeleteUserSessions "removes every session of userKey, expired or not,
// and returns how many live ones it removed": setting the clock back
// would revive an expired record that was only hidden.
func TestOutsiderDeleteUserSessionsExpiredToo(t *testing.T) {
	start := time.Now()
	clk := &settableClock{t: start}
	s := open(t, boltstore.WithClock(clk.Now), boltstore.WithSweepInterval(0))
	ctx := context.Background()
	for key, ttl := range map[string]time.Duration{"live": time.Hour, "old": time.Minute} {
		if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Expiry: start.Add(ttl), UserKey: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Save(ctx, "other", sessionkit.Record{Data: []byte("x"), Expiry: start.Add(time.Hour), UserKey: "v"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(2 * time.Minute))
	if n, err := s.DeleteUserSessions(ctx, "u"); err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1 (the live one)", n, err)
	}
	clk.Set(start)
	if _, err := s.Load(ctx, "old"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("the user's expired record survived DeleteUserSessions: Load = %v", err)
	}
	if _, err := s.Load(ctx, "other"); err != nil {
		t.Errorf("another user's record: %v", err)
	}
}

// WithNoCreate "makes Open and New fail with an error that wraps
// ErrNoBucket ... when the file does not have them".
func TestOutsiderNewNoCreate(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "own.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := boltstore.New(db, boltstore.WithNoCreate(), boltstore.WithSweepInterval(0)); !errors.Is(err, boltstore.ErrNoBucket) {
		t.Fatalf("New with WithNoCreate on a DB without the bucket = %v, want ErrNoBucket", err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			return fmt.Errorf("New with WithNoCreate created bucket %q", name)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.New(db, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = boltstore.New(db, boltstore.WithNoCreate(), boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatalf("New with WithNoCreate once the buckets exist: %v", err)
	}
	s.Close()
}

// WithFileMode "sets the permissions Open creates the database file with
// (default 0600)".
func TestOutsiderFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, boltstore.WithFileMode(0o640), boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o640 {
		t.Errorf("mode %o, want 0640", perm)
	}
}

// WithSweepInterval: "Zero or a negative value disables the sweeper";
// "A background sweeper started by Open and New ... Close stops it."
func TestOutsiderSweepIntervalZeroDisables(t *testing.T) {
	for i, tc := range []struct {
		opts []boltstore.Option
		want int
	}{
		{nil, 1},
		{[]boltstore.Option{boltstore.WithSweepInterval(0)}, 0},
		{[]boltstore.Option{boltstore.WithSweepInterval(-time.Second)}, 0},
	} {
		before := sweepers(t)
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := sweepers(t) - before; got != tc.want {
			t.Errorf("case %d: %d sweepers, want %d", i, got, tc.want)
		}
		s.Close()
		if got := sweepers(t) - before; got != 0 {
			t.Errorf("case %d: %d sweepers after Close", i, got)
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

// All yields every live record once, in key order.
func TestOutsiderAllInKeyOrder(t *testing.T) {
	s := open(t, boltstore.WithSweepInterval(0))
	ctx := context.Background()
	var keys []string
	for i := range 600 { // more than one page
		keys = append(keys, fmt.Sprintf("%x", i*7919%4099))
	}
	keys = append(keys, "B", "A", "a b", "_", "é", "~")
	var wg sync.WaitGroup
	for w := range 8 { // concurrent writers share commits
		wg.Go(func() {
			for i := w; i < len(keys); i += 8 {
				if _, err := s.Save(ctx, keys[i], sessionkit.Record{Data: []byte(keys[i]), Expiry: time.Now().Add(time.Hour)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
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
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Errorf("All yielded %d keys, want %d in byte order", len(got), len(want))
	}
}

// WithBatchDelay "sets how long Open's database waits to gather concurrent
// writes ... (bbolt's DB.MaxBatchDelay; default DefaultBatchDelay) ... New
// leaves the caller's DB settings alone and ignores this option."
func TestOutsiderBatchDelay(t *testing.T) {
	if s := open(t, boltstore.WithSweepInterval(0)); s.DB().MaxBatchDelay != boltstore.DefaultBatchDelay {
		t.Errorf("Open: MaxBatchDelay %v, want DefaultBatchDelay %v", s.DB().MaxBatchDelay, boltstore.DefaultBatchDelay)
	}
	if s := open(t, boltstore.WithSweepInterval(0), boltstore.WithBatchDelay(7*time.Millisecond)); s.DB().MaxBatchDelay != 7*time.Millisecond {
		t.Errorf("Open with WithBatchDelay(7ms): MaxBatchDelay %v", s.DB().MaxBatchDelay)
	}
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "own.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.MaxBatchDelay = 3 * time.Millisecond
	s, err := boltstore.New(db, boltstore.WithSweepInterval(0), boltstore.WithBatchDelay(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if db.MaxBatchDelay != 3*time.Millisecond {
		t.Errorf("New changed the caller's MaxBatchDelay to %v", db.MaxBatchDelay)
	}
}

// "A record's data may be up to MaxDataSize bytes ...; Save refuses a
// larger one, or a user key too long for bbolt's key limit (32 KiB) in
// the per-user index, with an error that wraps sessionkit.ErrTooLarge" —
// a hard size limit (the Manager's 500), not a store failure (503). (The
// oversized slice is never written to: it costs address space only.)
func TestOutsiderTooLarge(t *testing.T) {
	s := open(t, boltstore.WithSweepInterval(0))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for name, rec := range map[string]sessionkit.Record{
		"data over MaxDataSize": {Data: make([]byte, boltstore.MaxDataSize+1), Expiry: exp},
		"user key of 40 KiB":    {Data: []byte("x"), Expiry: exp, UserKey: strings.Repeat("u", 40<<10)},
	} {
		if _, err := s.Save(ctx, "big", rec); !errors.Is(err, sessionkit.ErrTooLarge) {
			t.Errorf("%s: Save = %v, want ErrTooLarge", name, err)
		}
	}
	if _, err := s.Save(ctx, "small", sessionkit.Record{Data: []byte("x"), Expiry: exp, UserKey: "u"}); err != nil {
		t.Fatalf("Save after the refused ones: %v", err)
	}
	if _, err := s.Load(ctx, "big"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("Load of the refused record = %v, want ErrNotFound", err)
	}
}
