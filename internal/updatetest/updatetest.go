// Package updatetest drives sessionkit.Update from the client's side
// across several processes: each Manager given is one process, serving
// the same application over real HTTP, and one client (a cookie jar that
// sends its cookie to all of them) sends a burst of concurrent increments
// spread over them. Store and codec packages run it to show that Update's
// increments "all count, in one process or across several" through their
// own compare-and-swap.
package updatetest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// PerKey is how many increments the burst makes of each of its three
// counters.
const PerKey = 12

// Burst serves an application on each Manager (GET /add/{key} increments
// key and "total" with Update, GET /get/{key} reads one), creates one
// client's session, then sends 3×PerKey concurrent increments of three
// counters, request i to Manager i%len(ms). Every request must be
// answered 200 and, read through every Manager, every counter must hold
// exactly the increments made. The Managers should share one store (or
// stores over one backend) and retry conflicts enough for the burst
// (MaxRetries).
func Burst(t *testing.T, ms ...*sessionkit.Manager) {
	t.Helper()
	var srvs []*httptest.Server
	for _, m := range ms {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /add/{key}", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			for _, k := range []string{r.PathValue("key"), "total"} {
				if _, err := sessionkit.Update(s, k, func(n int) (int, error) { return n + 1, nil }); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
			}
		})
		mux.HandleFunc("GET /get/{key}", func(w http.ResponseWriter, r *http.Request) {
			n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), r.PathValue("key"))
			fmt.Fprint(w, n)
		})
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	get := func(srv *httptest.Server, path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get(srvs[0], "/add/a"); code != http.StatusOK {
		t.Fatalf("first request: %d", code)
	}
	// The servers are all on 127.0.0.1: the jar sends the cookie to each.
	for _, srv := range srvs[1:] {
		if u, _ := url.Parse(srv.URL); len(jar.Cookies(u)) == 0 {
			t.Fatalf("the client has no cookie for %s", srv.URL)
		}
	}
	keys := []string{"a", "b", "c"}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok = map[string]int{"a": 1, "total": 1}
	)
	start := make(chan struct{})
	for i := range PerKey * len(keys) {
		key := keys[i%len(keys)]
		wg.Go(func() {
			<-start
			code, body := get(srvs[i%len(srvs)], "/add/"+key)
			if code != http.StatusOK {
				t.Errorf("/add/%s: %d %s", key, code, body)
				return
			}
			mu.Lock()
			ok[key]++
			ok["total"]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	for _, k := range append(keys, "total") {
		for _, srv := range srvs {
			if _, body := get(srv, "/get/"+k); body != strconv.Itoa(ok[k]) {
				t.Errorf("%s = %s on %s, want %d (every acknowledged increment, no other)", k, body, srv.URL, ok[k])
			}
		}
	}
}
