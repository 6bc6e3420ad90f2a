package memstore_test

// Outside-in acceptance checks of memstore, written from its package
// documentation, from a browser's side.

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// app serves /set?v=N (stores N bytes under "v"), and / (reports how many
// bytes "v" holds, 0 for none) over a Manager on s, on clk.
func app(t *testing.T, s *memstore.Store, clk *browser.Clock) *httptest.Server {
	t.Helper()
	m := sessionkit.New(s)
	m.Now = clk.Now
	m.Logger = slog.New(slog.DiscardHandler)
	m.MaxDataSize = -1 // leave the limit to the store
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.From(r.Context())
		if n := r.URL.Query().Get("v"); n != "" {
			size, _ := strconv.Atoi(n)
			sess.Set("v", strings.Repeat("a", size))
		}
		v, err := sessionkit.Get[string](sess, "v")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte(strconv.Itoa(len(v))))
	})))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *browser.Client, path string) (int, string) {
	t.Helper()
	resp, body, err := c.Do("GET", path)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// "when a shard is over its share of MaxEntries ... it first drops expired
// records and then the least recently used ones ... Evicting a live
// session logs its user out": with room for two sessions, a third browser
// signs out the one that has not been back, not the one that has.
func TestOutsiderEvictionSignsOutLeastRecentlyUsed(t *testing.T) {
	clk := browser.NewClock()
	s := memstore.New(memstore.Options{MaxEntries: 2, Shards: 1, SweepInterval: -1, Now: clk.Now})
	defer s.Close()
	srv := app(t, s, clk)
	clients := make([]*browser.Client, 3)
	for i := range clients {
		c, err := browser.NewClient(srv.URL, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	a, b, c := clients[0], clients[1], clients[2]
	get(t, a, "/?v=1")
	get(t, b, "/?v=2")
	if _, body := get(t, a, "/"); body != "1" { // a comes back
		t.Fatalf("a's session before eviction: %q, want 1", body)
	}
	get(t, c, "/?v=3")
	for name, tc := range map[string]struct {
		c    *browser.Client
		want string
	}{"a (came back)": {a, "1"}, "b (did not)": {b, "0"}, "c (newest)": {c, "3"}} {
		if _, body := get(t, tc.c, "/"); body != tc.want {
			t.Errorf("%s: session holds %q, want %q", name, body, tc.want)
		}
	}
	if n, _ := s.Stats(); n > 2 {
		t.Errorf("%d entries, over MaxEntries 2", n)
	}
}

// MaxBytes: "A single record larger than MaxBytes/Shards is refused with
// sessionkit.ErrTooLarge", which the Manager answers with 500, and the
// session is unchanged.
func TestOutsiderRecordOverShardShare(t *testing.T) {
	clk := browser.NewClock()
	s := memstore.New(memstore.Options{MaxBytes: 1 << 20, Shards: 4, SweepInterval: -1, Now: clk.Now})
	defer s.Close()
	srv := app(t, s, clk)
	c, err := browser.NewClient(srv.URL, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, c, "/?v=200000"); status != http.StatusOK || body != "200000" {
		t.Fatalf("a record under MaxBytes/Shards: %d %q", status, body)
	}
	if status, _ := get(t, c, "/?v=300000"); status != http.StatusInternalServerError {
		t.Errorf("a record over MaxBytes/Shards (256 KiB): status %d, want 500", status)
	}
	if _, body := get(t, c, "/"); body != "200000" {
		t.Errorf("after the refused save the session holds %q, want the 200000 bytes it had", body)
	}
}

// Options.Shards "is never more than MaxEntries: a larger value ... is
// lowered to it, and MaxBytes/Shards above uses the lowered value".
func TestOutsiderShardsAtMostMaxEntries(t *testing.T) {
	s := memstore.New(memstore.Options{MaxEntries: 4, Shards: 32, MaxBytes: 32 << 20, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Save(ctx, "fits", sessionkit.Record{Data: make([]byte, 8<<20-4096), Expiry: exp}); err != nil {
		t.Errorf("record under MaxBytes/4: %v", err)
	}
	if _, err := s.Save(ctx, "big", sessionkit.Record{Data: make([]byte, 8<<20+1), Expiry: exp}); !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Errorf("record over MaxBytes/4: %v, want ErrTooLarge", err)
	}
}
