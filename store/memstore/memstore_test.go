package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		s := memstore.New(memstore.Options{SweepInterval: 50 * time.Millisecond})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestConformanceWithoutSweeper(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		s := memstore.New(memstore.Options{SweepInterval: -1, Shards: 1})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestLifetime runs the client-side lifetime journeys; the store reads the
// journeys' clock, as an in-process store of a real app reads the app's.
func TestLifetime(t *testing.T) {
	storetest.RunLifetime(t, func(t *testing.T, now func() time.Time) *sessionkit.Manager {
		s := memstore.New(memstore.Options{Now: now})
		t.Cleanup(func() { s.Close() })
		return sessionkit.New(s)
	})
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func save(t *testing.T, s *memstore.Store, key string, exp time.Time) {
	t.Helper()
	if _, err := s.Save(context.Background(), key, sessionkit.Record{Data: []byte("data-" + key), Expiry: exp}); err != nil {
		t.Fatalf("Save(%q): %v", key, err)
	}
}

func loads(s *memstore.Store, key string) bool {
	_, err := s.Load(context.Background(), key)
	return err == nil
}

func TestEntryBoundEvictsLeastRecentlyUsed(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.Options{MaxEntries: 3, Shards: 1, SweepInterval: -1, Now: clock.Now})
	defer s.Close()
	exp := clock.Now().Add(time.Hour)
	save(t, s, "a", exp)
	save(t, s, "b", exp)
	save(t, s, "c", exp)
	loads(s, "a") // a becomes most recently used; b is now the oldest
	save(t, s, "d", exp)
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := loads(s, key); got != want {
			t.Errorf("after eviction, %q present = %v, want %v", key, got, want)
		}
	}
	if n, _ := s.Stats(); n != 3 {
		t.Errorf("entries = %d, want 3", n)
	}
}

// With the default Shards, a small MaxEntries is one shard: the store
// keeps exactly MaxEntries records and evicts the least recently used one
// (with 32 shards of 3 records, MaxEntries: 100 evicted with ~20 live).
func TestDefaultShardsKeepSmallEntryBound(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.Options{MaxEntries: 100, SweepInterval: -1, Now: clock.Now})
	defer s.Close()
	exp := clock.Now().Add(time.Hour)
	for i := range 100 {
		save(t, s, fmt.Sprint("k", i), exp)
	}
	for i := range 100 {
		if !loads(s, fmt.Sprint("k", i)) {
			t.Fatalf("k%d evicted with %d records under MaxEntries 100", i, 100)
		}
	}
	loads(s, "k0") // k1 is now the least recently used
	save(t, s, "new", exp)
	for key, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k99": true, "new": true} {
		if got := loads(s, key); got != want {
			t.Errorf("after the 101st record, %q present = %v, want %v", key, got, want)
		}
	}
	if n, _ := s.Stats(); n != 100 {
		t.Errorf("entries = %d, want 100", n)
	}
}

func TestEvictionPrefersExpired(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.Options{MaxEntries: 3, Shards: 1, SweepInterval: -1, Now: clock.Now})
	defer s.Close()
	save(t, s, "expiring", clock.Now().Add(time.Minute))
	save(t, s, "b", clock.Now().Add(time.Hour))
	save(t, s, "c", clock.Now().Add(time.Hour))
	loads(s, "expiring") // most recently used, but about to expire
	clock.Advance(2 * time.Minute)
	save(t, s, "d", clock.Now().Add(time.Hour))
	for key, want := range map[string]bool{"b": true, "c": true, "d": true} {
		if got := loads(s, key); got != want {
			t.Errorf("%q present = %v, want %v (the expired record should have gone first)", key, got, want)
		}
	}
	if n, _ := s.Stats(); n != 3 {
		t.Errorf("entries = %d, want 3", n)
	}
}

func TestByteBound(t *testing.T) {
	s := memstore.New(memstore.Options{MaxBytes: 64 << 10, Shards: 1, SweepInterval: -1})
	defer s.Close()
	data := make([]byte, 1000)
	for i := range 500 {
		if _, err := s.Save(context.Background(), fmt.Sprint(i), sessionkit.Record{Data: data, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, bytes := s.Stats(); bytes > 64<<10 {
		t.Fatalf("bytes = %d, over the bound of %d", bytes, 64<<10)
	}
	if !loads(s, "499") {
		t.Fatal("the newest record was evicted")
	}
	_, err := s.Save(context.Background(), "huge", sessionkit.Record{Data: make([]byte, 128<<10), Expiry: time.Now().Add(time.Hour)})
	if !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Fatalf("oversized record: error = %v, want ErrTooLarge", err)
	}
}

// TestSmallByteBoundKeepsLargeRecords: with the default Shards, a small
// MaxBytes is not split so finely that ordinary records are refused; a
// record may take up to 1 MiB, or all of a smaller MaxBytes.
func TestSmallByteBoundKeepsLargeRecords(t *testing.T) {
	for _, tc := range []struct {
		maxBytes int64
		fits     int // data bytes a record may have
		tooLarge int // data bytes it may not
	}{
		{2000, 1500, 2000},
		{4 << 20, 1<<20 - 200, 1<<20 + 1},
		{256 << 20, 8<<20 - 200, 8<<20 + 1},
	} {
		t.Run(fmt.Sprint(tc.maxBytes), func(t *testing.T) {
			s := memstore.New(memstore.Options{MaxBytes: tc.maxBytes, SweepInterval: -1})
			defer s.Close()
			exp := time.Now().Add(time.Hour)
			if _, err := s.Save(context.Background(), "fits", sessionkit.Record{Data: make([]byte, tc.fits), Expiry: exp}); err != nil {
				t.Fatalf("%d-byte record with MaxBytes %d: %v", tc.fits, tc.maxBytes, err)
			}
			if _, err := s.Save(context.Background(), "large", sessionkit.Record{Data: make([]byte, tc.tooLarge), Expiry: exp}); !errors.Is(err, sessionkit.ErrTooLarge) {
				t.Fatalf("%d-byte record with MaxBytes %d: error %v, want ErrTooLarge", tc.tooLarge, tc.maxBytes, err)
			}
		})
	}
}

func TestSweeperRemovesExpiredAndCloseStopsIt(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.Options{SweepInterval: time.Millisecond, Now: clock.Now})
	save(t, s, "short", clock.Now().Add(time.Second))
	save(t, s, "long", clock.Now().Add(time.Hour))
	clock.Advance(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := s.Stats(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not remove the expired record")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !loads(s, "long") {
		t.Fatal("live record lost")
	}
}

// TestChurnStaysBounded writes far more sessions than the bounds allow and
// checks the store never holds more than its bounds.
func TestChurnStaysBounded(t *testing.T) {
	const maxEntries = 1000
	s := memstore.New(memstore.Options{MaxEntries: maxEntries, MaxBytes: 1 << 20, SweepInterval: -1})
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25_000 {
				key := fmt.Sprintf("%d-%d", w, i)
				if _, err := s.Save(context.Background(), key, sessionkit.Record{Data: []byte("0123456789"), Expiry: time.Now().Add(time.Hour)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	entries, bytes := s.Stats()
	if entries > maxEntries || bytes > 1<<20 {
		t.Fatalf("after 100k sessions: %d entries, %d bytes; bounds are %d entries, %d bytes", entries, bytes, maxEntries, 1<<20)
	}
	if entries < maxEntries/2 {
		t.Fatalf("only %d entries kept; eviction is too eager", entries)
	}
}

// TestLoadSharesData: Load hands out the stored bytes without copying
// them (no allocation), and an append to what it returned cannot reach
// into the store.
func TestLoadSharesData(t *testing.T) {
	s := memstore.New(memstore.Options{SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte(`{"a":1}`), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := s.Load(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Load allocates %v times, want 0", n)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if grown := append(rec.Data, `garbage`...); string(grown) != `{"a":1}garbage` {
		t.Fatalf("append gave %q", grown)
	}
	again, err := s.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Data) != `{"a":1}` || len(again.Data) != cap(again.Data) {
		t.Fatalf("stored data became %q (cap %d)", again.Data, cap(again.Data))
	}
}
