package express_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestOutsiderUpdateConnectRedis: sessionkit.Update's increments "all
// count, in one process or across several" (the root package's "No lost
// updates") through the express-session codec too, on the connect-redis
// layout, whose compare-and-swap goes by the stored JSON: two Go
// processes configured with express.Configure, each on its own store
// (plain, and with NearCache and AutoPipeline), answer a burst of
// concurrent increments of one client's counters, and every counter holds
// exactly the increments acknowledged.
func TestOutsiderUpdateConnectRedis(t *testing.T) {
	redisURL := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, mode := range []struct {
		name string
		opts redisstore.Options
	}{
		{"Plain", redisstore.Options{}},
		{"NearCache+AutoPipeline", redisstore.Options{NearCache: &redisstore.NearCache{}, AutoPipeline: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			prefix := uniqueName("sess_") + ":"
			var srvs []*httptest.Server
			for range 2 {
				o := mode.opts
				o.Layout, o.Prefix, o.UserKeyOf = redisstore.LayoutConnectRedis, prefix, express.UserKey
				if o.NearCache != nil {
					nc := *o.NearCache
					o.NearCache = &nc
				}
				st, err := redisstore.NewFromURL(context.Background(), redisURL, o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx := context.Background()
					for e, err := range st.All(ctx) {
						if err == nil {
							st.Delete(ctx, e.Key)
						}
					}
					st.Close()
				})
				m := sessionkit.New(st)
				if err := express.Configure(m, express.Options{Secrets: []string{"keyboard cat"}}); err != nil {
					t.Fatal(err)
				}
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
