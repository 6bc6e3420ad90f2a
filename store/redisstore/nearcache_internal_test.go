package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/push"

	"github.com/sessionkit/sessionkit"
)

// FuzzInvalidatedKey feeds arbitrary key names, as Redis reports them in
// invalidation messages, to both layouts: a name is either refused or
// mapped to the session key whose record key it is, and applying the
// message never panics and drops exactly that key.
func FuzzInvalidatedKey(f *testing.F) {
	for _, s := range []string{"", "p:{k}", "p:{}", "p:{%7B}", "p:{a}b}", "p:", "p:{", "p:u:{ann}", "p:r{k}", "p:{%zz}", "x{k}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rk string) {
		for _, layout := range []Layout{LayoutNative, LayoutConnectRedis} {
			s := &Store{prefix: "p:", layout: layout}
			keyOf := s.nativeKeyOf
			if layout == LayoutConnectRedis {
				keyOf = s.crKeyOf
			}
			key, ok := keyOf(rk)
			if ok && s.RecordKey(key) != rk {
				t.Fatalf("layout %d: %q maps to session key %q, whose record key is %q", layout, rk, key, s.RecordKey(key))
			}
			c := newNearCache(NearCache{})
			c.setLease(c.mono(time.Now().Add(time.Hour)))
			rec := sessionkit.Record{Data: []byte("x"), Version: 1, Expiry: time.Now().Add(time.Hour)}
			for _, k := range []string{key, "other"} {
				_, _, fetch := c.lookup(k)
				c.fill(k, fetch, rec)
			}
			tr := &tracker{t: &tracking{cache: c, keyOf: keyOf}}
			if err := tr.HandlePushNotification(context.Background(), push.NotificationHandlerContext{}, []any{"invalidate", []any{rk, int64(7), nil}}); err != nil {
				t.Fatal(err)
			}
			_, state, _ := c.lookup(key)
			if ok && state == nearHit {
				t.Fatalf("layout %d: %q still cached after its invalidation", layout, key)
			}
			if _, state, _ := c.lookup("other"); state != nearHit && key != "other" {
				t.Fatalf("layout %d: invalidating %q dropped another key", layout, rk)
			}
		}
	})
}

// TestNearCacheFillRace checks the placeholder protocol without Redis: a
// load whose key is invalidated, or whose cache is flushed, before its
// answer arrives does not fill the cache, and nothing is served without
// a lease.
func TestNearCacheFillRace(t *testing.T) {
	rec := sessionkit.Record{Data: []byte("old"), Version: 1, Expiry: time.Now().Add(time.Hour)}
	c := newNearCache(NearCache{})
	if _, state, f := c.lookup("k"); state != nearMiss || f.token != 0 {
		t.Fatalf("without a lease: state %d, placeholder %v", state, f)
	}
	c.setLease(c.mono(time.Now().Add(time.Hour)))

	_, _, f := c.lookup("k")
	c.invalidate("k", true) // a change, reported while the load was in flight
	c.fill("k", f, rec)
	if _, state, _ := c.lookup("k"); state == nearHit {
		t.Error("a load invalidated in flight filled the cache")
	}

	_, _, f = c.lookup("k2")
	c.flush(false) // e.g. tracking re-established
	c.fill("k2", f, rec)
	if _, state, _ := c.lookup("k2"); state == nearHit {
		t.Error("a load from before a flush filled the cache")
	}

	_, _, f = c.lookup("k3")
	_, _, f2 := c.lookup("k3") // a second load while the first is in flight
	if f2.token != 0 {
		t.Error("a second load got a placeholder too")
	}
	c.fill("k3", f, rec)
	if got, state, _ := c.lookup("k3"); state != nearHit || string(got.Data) != "old" {
		t.Errorf("after an undisturbed load: state %d, %q", state, got.Data)
	}
	c.setLease(0)
	if _, state, _ := c.lookup("k3"); state == nearHit {
		t.Error("served without a lease")
	}
}

// TestNearCacheIdlePolicy checks the idle policy without Redis: a window of
// loads that each follow this process's own write makes the cache go
// idle; while idle, loads that each follow a write keep it idle and
// repeated loads with no write between make it resume; a cache that
// resumed and found no hits waits twice as long the next time; and
// AlwaysTrack never goes idle.
func TestNearCacheIdlePolicy(t *testing.T) {
	rec := sessionkit.Record{Data: []byte("x"), Version: 1, Expiry: time.Now().Add(time.Hour)}
	far := func(c *nearCache) int64 { return c.mono(time.Now().Add(time.Hour)) }
	rmw := func(c *nearCache, n int) {
		for range n {
			_, state, f := c.lookup("w")
			if state == nearHit {
				t.Fatal("a load after this process's write was a hit")
			}
			c.fill("w", f, rec)
			c.invalidate("w", false) // Save, Touch or Delete here
		}
	}
	repeat := func(c *nearCache, n int) {
		for range n {
			if _, state, f := c.lookup("r"); state != nearHit {
				c.fill("r", f, rec)
			}
		}
	}
	// goIdle stands for the trackers, which turn invalidations off after
	// their next heartbeat: no lease, cache dropped.
	goIdle := func(c *nearCache) {
		if !c.wantIdle() {
			t.Fatalf("not idle after a window of loads after writes: %+v", c.stats())
		}
		c.flush(true)
	}
	resume := func(c *nearCache) {
		if c.wantIdle() {
			t.Fatalf("still idle after a window of repeated loads: %+v", c.stats())
		}
		c.flush(false)
		c.setLease(far(c))
	}

	c := newNearCache(NearCache{})
	c.setLease(far(c))
	repeat(c, nearWindow)
	if c.wantIdle() {
		t.Fatal("idle while hit")
	}
	rmw(c, nearWindow)
	goIdle(c)
	if st := c.stats(); !st.Idle || st.Tracking {
		t.Errorf("idle stats %+v", st)
	}
	rmw(c, nearWindow)
	if !c.wantIdle() {
		t.Fatal("resumed on loads that each followed a write")
	}
	repeat(c, nearWindow)
	if _, state, f := c.lookup("r"); state != nearMiss || f.token != 0 {
		t.Fatalf("an idle cache answered or cached a load: state %d, placeholder %v", state, f)
	}
	resume(c)
	if st := c.stats(); st.Idle {
		t.Errorf("resumed stats %+v", st)
	}

	// Resumed, but every load follows a write: idle again, and the next
	// attempt waits for two windows of repeats.
	rmw(c, nearWindow)
	goIdle(c)
	repeat(c, nearWindow)
	if !c.wantIdle() {
		t.Fatal("resumed after one window right after a failed attempt")
	}
	repeat(c, nearWindow)
	resume(c)
	// Hits now: stays on, and the wait is back to one window.
	repeat(c, 4*nearWindow)
	if c.wantIdle() {
		t.Fatal("idle while hit")
	}
	rmw(c, nearWindow)
	goIdle(c)
	repeat(c, nearWindow)
	resume(c)

	c = newNearCache(NearCache{AlwaysTrack: true})
	c.setLease(far(c))
	rmw(c, 4*nearWindow)
	if c.wantIdle() || c.stats().Idle {
		t.Fatal("AlwaysTrack went idle")
	}
}
