package koa_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// In external-store mode a session that is only read, with Renew or
// Rolling, must have its "_expire" moved with the store's expiry:
// koa-session (and the Go side) end a session at its "_expire", so a
// touch that moved only the store's expiry ended an active session at the
// "_expire" of its last write.
func TestExternalStoreTouchMovesExpire(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    koa.Options
	}{
		{"Renew", koa.Options{Keys: []string{"k"}, MaxAge: 4 * time.Hour, Renew: true}},
		{"Rolling", koa.Options{Keys: []string{"k"}, MaxAge: 4 * time.Hour, Rolling: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			mem := memstore.New(memstore.Options{Now: clock.Now})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(koa.NewExternalStore(mem))
			m.Now = clock.Now
			if err := koa.ConfigureStore(m, tc.o); err != nil {
				t.Fatal(err)
			}
			srv := valueApp(t, m)
			_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=1", "")
			pair := "koa.sess=" + cs["koa.sess"].Value + "; koa.sess.sig=" + cs["koa.sess.sig"].Value
			key := cs["koa.sess"].Value

			// Read every 90 minutes for 12 hours, three times the maxAge.
			for i := 1; i <= 8; i++ {
				clock.advance(90 * time.Minute)
				if _, body, _ := rawGet(t, srv.URL+"/get?k=n", pair); body != "1" {
					t.Fatalf("read %d, %v after the write: session gone (%q)", i, time.Duration(i)*90*time.Minute, body)
				}
				rec, err := mem.Load(context.Background(), key)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				var stored struct {
					Expire int64 `json:"_expire"`
				}
				if err := json.Unmarshal(rec.Data, &stored); err != nil {
					t.Fatal(err)
				}
				if stored.Expire != rec.Expiry.UnixMilli() {
					t.Fatalf("read %d: _expire %d, store expiry %d (%s)", i, stored.Expire, rec.Expiry.UnixMilli(), rec.Data)
				}
				if want := clock.Now().Add(4 * time.Hour); rec.Expiry.Before(want.Add(-time.Hour)) {
					t.Fatalf("read %d: expiry %v not extended (now %v)", i, rec.Expiry, clock.Now())
				}
			}
		})
	}
}

// Rolling and Renew need the wrapper: ConfigureStore says so instead of
// ending active sessions early.
func TestConfigureStoreNeedsExternalStoreToRoll(t *testing.T) {
	for _, o := range []koa.Options{
		{Keys: []string{"k"}, Renew: true},
		{Keys: []string{"k"}, Rolling: true},
	} {
		mem := memstore.New(memstore.Options{})
		t.Cleanup(func() { mem.Close() })
		err := koa.ConfigureStore(sessionkit.New(mem), o)
		if err == nil || !strings.Contains(err.Error(), "NewExternalStore") {
			t.Errorf("ConfigureStore(%+v) on an unwrapped store = %v, want an error naming NewExternalStore", o, err)
		}
	}
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	if err := koa.ConfigureStore(sessionkit.New(mem), koa.Options{Keys: []string{"k"}}); err != nil {
		t.Errorf("ConfigureStore without Rolling or Renew on an unwrapped store: %v", err)
	}
}

// koa-redis keeps a record ten seconds past its "_expire"; the wrapper
// reports the "_expire", so the Go side renews a session a quarter of its
// maxAge after koa-session saved it, not ten seconds later.
func TestExternalStoreLoadsExpire(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	mem := memstore.New(memstore.Options{Now: clock.Now})
	t.Cleanup(func() { mem.Close() })
	ctx := context.Background()
	const key = "sess:1b4e28ba-2fa1-4d2b-883f-0016d3cca427"
	expire := clock.Now().Add(4 * time.Second)
	data := `{"n":1,"_expire":` + strconv.FormatInt(expire.UnixMilli(), 10) + `,"_maxAge":4000}`
	if _, err := mem.Save(ctx, key, sessionkit.Record{Data: []byte(data), Expiry: expire.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	ext := koa.NewExternalStore(mem)
	rec, err := ext.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Expiry.Equal(expire) {
		t.Fatalf("Load reports expiry %v, want the _expire %v", rec.Expiry, expire)
	}

	m := sessionkit.New(ext)
	m.Now = clock.Now
	if err := koa.ConfigureStore(m, koa.Options{Keys: []string{"k"}, Prefix: "sess:", Renew: true}); err != nil {
		t.Fatal(err)
	}
	srv := valueApp(t, m)
	kg, err := keygrip.New("k")
	if err != nil {
		t.Fatal(err)
	}
	pair := "koa.sess=" + key + "; koa.sess.sig=" + kg.Sign("koa.sess="+key)
	clock.advance(1200 * time.Millisecond) // past a quarter of 4s
	_, body, set := rawGet(t, srv.URL+"/get?k=n", pair)
	if body != "1" || set["koa.sess"] == nil || set["koa.sess"].MaxAge != 4 {
		t.Fatalf("a read past a quarter of the maxAge: %q, sent %v, want a renewal with Max-Age 4", body, set)
	}
	rec, err = mem.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(4 * time.Second); !rec.Expiry.Equal(want.Truncate(time.Millisecond)) || !strings.Contains(string(rec.Data), strconv.FormatInt(want.UnixMilli(), 10)) {
		t.Fatalf("after the renewal: expiry %v, record %s; want %v", rec.Expiry, rec.Data, want)
	}
}

// Events (and so metrics) name a Manager over an ExternalStore by the
// store it wraps, over real HTTP, for every store call.
func TestExternalStoreEventsNameWrappedStore(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	m := sessionkit.New(koa.NewExternalStore(mem))
	if err := koa.ConfigureStore(m, koa.Options{Keys: []string{"k"}, Rolling: true}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	kinds := map[string]int{}
	m.Observer = func(ev sessionkit.Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds[ev.Store]++
	}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
	})))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) != 1 || kinds["memstore"] == 0 {
		t.Errorf("events by Store: %v, want all memstore", kinds)
	}
}

// unwrapping is an application's own store wrapper (metrics, logging)
// that says what it wraps.
type unwrapping struct{ sessionkit.Store }

func (u unwrapping) Unwrap() sessionkit.Store { return u.Store }

// opaque wraps a store without saying so.
type opaque struct{ sessionkit.Store }

// ConfigureStore's Rolling and Renew accept an ExternalStore under an
// application's own wrapper that unwraps to it, and still refuse one that
// does not say what it wraps.
func TestConfigureStoreWrappedExternalStore(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	for _, tc := range []struct {
		name  string
		store sessionkit.Store
		ok    bool
	}{
		{"ExternalStore", koa.NewExternalStore(mem), true},
		{"unwrapping wrapper", unwrapping{unwrapping{koa.NewExternalStore(mem)}}, true},
		{"opaque wrapper", opaque{koa.NewExternalStore(mem)}, false},
		{"wrapper of the bare store", unwrapping{mem}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, o := range []koa.Options{{Keys: []string{"k"}, Rolling: true}, {Keys: []string{"k"}, Renew: true}} {
				err := koa.ConfigureStore(sessionkit.New(tc.store), o)
				if (err == nil) != tc.ok {
					t.Errorf("ConfigureStore(%+v) = %v, want ok %v", o, err, tc.ok)
				}
			}
		})
	}
}
