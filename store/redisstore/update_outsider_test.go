package redisstore_test

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
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestOutsiderUpdateAcrossProcesses: Update "records fn instead: when the
// change is merged with others or saved after a conflict, fn is called
// again on the value then stored, so both increments count, whichever
// process made them" (sessionkit.Update). Two processes, each a Manager
// on a store of its own over one Redis (with every option that changes
// how records are loaded and saved: AutoPipeline, NearCache), answer a
// burst of concurrent requests of one client, each incrementing one of
// three counters and a total: every request is answered 200 and every
// counter holds exactly the increments made.
func TestOutsiderUpdateAcrossProcesses(t *testing.T) {
	rawURL := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			first := newStoreWith(t, newClient(t, rawURL), mode.opts())
			opts := mode.opts()
			opts.Prefix = first.Prefix()
			second, err := redisstore.New(newClient(t, rawURL), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { second.Close() })
			if opts.NearCache != nil {
				waitTracking(t, second)
			}
			var srvs []*httptest.Server
			for _, st := range []*redisstore.Store{first, second} {
				m := sessionkit.New(st)
				m.MaxRetries = 64 // only conflicts between the two processes remain; let them all resolve
				mux := http.NewServeMux()
				mux.HandleFunc("GET /add/{key}", func(w http.ResponseWriter, r *http.Request) {
					s := sessionkit.From(r.Context())
					for _, k := range []string{r.PathValue("key"), "total"} {
						if _, err := sessionkit.Update(s, k, func(n int) (int, error) { return n + 1, nil }); err != nil {
							http.Error(w, err.Error(), 500)
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
			jar, _ := cookiejar.New(nil)
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
			if code, _ := get(srvs[0], "/add/a"); code != 200 {
				t.Fatalf("first request: %d", code)
			}
			// Both servers are on 127.0.0.1: the jar sends the cookie to both.
			u, _ := url.Parse(srvs[1].URL)
			if len(jar.Cookies(u)) == 0 {
				t.Fatal("the client has no cookie for the second server")
			}
			keys := []string{"a", "b", "c"}
			const perKey = 12
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := map[string]int{"a": 1, "total": 1}
			start := make(chan struct{})
			for i := range perKey * len(keys) {
				key := keys[i%len(keys)]
				wg.Go(func() {
					<-start
					code, body := get(srvs[i%2], "/add/"+key)
					if code != 200 {
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
		})
	}
}
