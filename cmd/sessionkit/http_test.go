package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// app is an application serving sessions from a store URL over real HTTP,
// as the operator's application would; the CLI then works on the same
// store. reopen closes the store and opens it again (bolt files allow one
// process at a time).
type httpApp struct {
	t       *testing.T
	url     string
	express bool // share the sessions with express-session (compat/express)
	now     func() time.Time
	store   storeurl.Store
	handler atomic.Pointer[http.Handler]
	srv     *httptest.Server
}

func newHTTPApp(t *testing.T, rawURL string) *httpApp {
	t.Helper()
	a := &httpApp{t: t, url: rawURL, now: time.Now}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*a.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	a.open()
	t.Cleanup(func() {
		if a.store != nil {
			a.store.Close()
		}
	})
	return a
}

func (a *httpApp) open() {
	a.t.Helper()
	s, err := storeurl.Open(context.Background(), a.url, storeurl.Options{NoSweeper: true})
	if err != nil {
		a.t.Fatal(err)
	}
	a.store = s
	m := sessionkit.New(s)
	m.Now = func() time.Time { return a.now() }
	if a.express {
		if err := express.Configure(m, express.Options{Secrets: []string{"keyboard cat, but longer and random"}, MaxAge: 2 * time.Hour}); err != nil {
			a.t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	// POST /login?user=U signs the client in as U; POST /add puts an item in
	// the cart; GET /me says who the client is and what its cart holds.
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Regenerate(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if a.express {
			// As Passport does; the store finds the user in it.
			s.Set("passport", map[string]string{"user": r.FormValue("user")})
		} else if err := s.SetUserKey(r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.Set("name", r.FormValue("user"))
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		cart, _ := sessionkit.Get[[]string](s, "cart")
		s.Set("cart", append(cart, r.FormValue("item")))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		cart, _ := sessionkit.Get[[]string](s, "cart")
		user := s.UserKey()
		if a.express {
			p, _ := sessionkit.Get[map[string]string](s, "passport")
			user = p["user"]
		}
		fmt.Fprintf(w, "%s %s", orNobody(user), strings.Join(cart, ","))
	})
	var h http.Handler = m.Handler(mux)
	a.handler.Store(&h)
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// reopen releases the store and opens it again, around fn.
func (a *httpApp) closed(fn func()) {
	a.t.Helper()
	if err := a.store.Close(); err != nil {
		a.t.Fatal(err)
	}
	a.store = nil
	fn()
	a.open()
}

// client is one browser of the application.
type httpClient struct {
	a   *httpApp
	c   *http.Client
	jar *cookiejar.Jar
}

func (a *httpApp) client() *httpClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return &httpClient{a: a, c: &http.Client{Jar: jar}, jar: jar}
}

func (c *httpClient) do(method, path string) string {
	c.a.t.Helper()
	req, err := http.NewRequest(method, c.a.srv.URL+path, nil)
	if err != nil {
		c.a.t.Fatal(err)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.a.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.a.t.Fatalf("%s %s: %s %s", method, path, resp.Status, body)
	}
	return string(body)
}

// id is the session ID in the client's cookie ("" when it holds none).
func (c *httpClient) id() string {
	c.a.t.Helper()
	u, err := url.Parse(c.a.srv.URL)
	if err != nil {
		c.a.t.Fatal(err)
	}
	for _, ck := range c.jar.Cookies(u) {
		switch {
		case ck.Name == "session" && !c.a.express:
			return ck.Value
		case ck.Name == express.DefaultCookieName && c.a.express:
			// s:ID.signature, URI-encoded.
			v, _ := express.DecodeURIComponent(ck.Value)
			id, _, _ := strings.Cut(strings.TrimPrefix(v, "s:"), ".")
			return id
		}
	}
	return ""
}

// mysqlURL returns the test MySQL server as a mysql:// URL with a fresh
// table, which is dropped when the test ends.
func mysqlURL(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.Getenv(t, testenv.MySQLDSNEnv))
	if err != nil {
		t.Fatal(err)
	}
	u := &url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	raw := withParam(u.String(), "table", uniqueName("skcli_"))
	t.Cleanup(func() {
		s, err := storeurl.Open(context.Background(), raw, storeurl.Options{NoSweeper: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if d, ok := s.(interface{ DropTable(context.Context) error }); ok {
			if err := d.DropTable(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	return raw
}

// httpBackends are the stores TestCommandsOnHTTPSessions runs on: every
// server-side store the CLI documents, backends that are not available
// skipping.
var httpBackends = []struct {
	name      string
	url       func(t *testing.T) string
	exclusive bool // one process at a time: the app closes it for the CLI
	sweeper   bool // keeps expired records until purged
	ttl       bool // the server may delete expired records itself as well
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite") }, false, true, false},
	{"bolt", func(t *testing.T) string { return "bolt://" + filepath.Join(t.TempDir(), "s.db") }, true, true, false},
	{"postgres", func(t *testing.T) string { u, _ := postgresURL(t); return u }, false, true, false},
	{"mysql", mysqlURL, false, true, false},
	{"redis", func(t *testing.T) string { u, _ := redisURL(t); return u }, false, false, false},
	// Revocations reach an application that keeps sessions in its near
	// cache on its next request.
	{"redis near cache", func(t *testing.T) string { u, _ := redisURL(t); return withParam(u, "near_cache", "true") }, false, false, false},
	{"redis auto pipeline", func(t *testing.T) string { u, _ := redisURL(t); return withParam(u, "auto_pipeline", "true") }, false, false, false},
	{"mongodb", mongoURL, false, true, true},
}

// TestCommandsOnHTTPSessions drives an application over real HTTP, with
// cookie jars, and checks that the CLI sees the sessions the clients
// created, and that revoke and purge end them as a client sees it.
func TestCommandsOnHTTPSessions(t *testing.T) {
	for _, b := range httpBackends {
		t.Run(b.name, func(t *testing.T) {
			a := newHTTPApp(t, b.url(t))
			store := "--store=" + a.url
			cli := func(want int, args ...string) result {
				t.Helper()
				var r result
				run := func() { r = mustRun(t, want, append([]string{store}, args...)...) }
				if b.exclusive {
					a.closed(run)
				} else {
					run()
				}
				return r
			}

			alice1, alice2, bob, anon := a.client(), a.client(), a.client(), a.client()
			alice1.do("POST", "/login?user=alice")
			alice1.do("POST", "/add?item=pear")
			alice2.do("POST", "/login?user=alice")
			bob.do("POST", "/login?user=bob")
			anon.do("POST", "/add?item=apple")
			m := sessionkit.New(nil)
			keyOf := func(c *httpClient) string { return m.KeyOf(c.id()) }

			st := decodeJSON[map[string]any](t, cli(0, "stats", "--json"))
			if st["sessions"] != float64(4) || st["with_user"] != float64(3) || st["users"] != float64(2) {
				t.Errorf("stats: %v, want 4 sessions, 3 with a user, 2 users", st)
			}

			list := decodeJSON[listJSON](t, cli(0, "list", "--json"))
			var keys, want []string
			for _, s := range list.Sessions {
				keys = append(keys, s.Key+"="+s.User)
			}
			for c, user := range map[*httpClient]string{alice1: "alice", alice2: "alice", bob: "bob", anon: ""} {
				want = append(want, keyOf(c)+"="+user)
			}
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Errorf("list: %q, want %q (sorted by key)", keys, want)
			}
			// Pages of --limit sessions, each --after the last one shown,
			// add up to the whole list.
			var paged []string
			for after := ""; ; {
				page := decodeJSON[listJSON](t, cli(0, "list", "--limit", "3", "--after", after, "--json"))
				for _, s := range page.Sessions {
					paged = append(paged, s.Key+"="+s.User)
				}
				if page.NextAfter == "" {
					break
				}
				if len(page.Sessions) != 3 || page.NextAfter != page.Sessions[2].Key {
					t.Fatalf("list --limit 3: %+v", page)
				}
				after = page.NextAfter
			}
			if !slices.Equal(paged, want) {
				t.Errorf("list in pages of 3: %q, want %q", paged, want)
			}
			mine := decodeJSON[listJSON](t, cli(0, "list", "--user", "alice", "--json"))
			if len(mine.Sessions) != 2 {
				t.Errorf("list --user alice: %+v, want alice's two sessions", mine)
			}

			shown := decodeJSON[map[string]any](t, cli(0, "show", alice1.id(), "--json"))
			if shown["key"] != keyOf(alice1) || shown["user"] != "alice" {
				t.Errorf("show by session ID: %v", shown)
			}
			if v, _ := shown["values"].(map[string]any); fmt.Sprint(v["cart"]) != "[pear]" || v["name"] != "alice" {
				t.Errorf("show: values %v, want the cart and name the client stored", shown["values"])
			}
			cli(0, "show", keyOf(anon))

			cli(0, "revoke", alice1.id())
			if got := alice1.do("GET", "/me"); got != "nobody " {
				t.Errorf("after revoke of its session the client is %q, want signed out", got)
			}
			if got := alice2.do("GET", "/me"); got != "alice " {
				t.Errorf("alice's other session after revoking one: %q", got)
			}
			cli(3, "show", keyOf(alice1))

			r := decodeJSON[map[string]any](t, cli(0, "revoke", "--user", "alice", "--json"))
			if r["revoked"] != float64(1) {
				t.Errorf("revoke --user alice: %v, want 1 revoked", r)
			}
			if got := alice2.do("GET", "/me"); got != "nobody " {
				t.Errorf("after revoke --user the client is %q, want signed out", got)
			}
			cli(3, "revoke", "--user", "alice")
			if got := bob.do("GET", "/me"); got != "bob " {
				t.Errorf("bob after revoking alice: %q", got)
			}
			if got := anon.do("GET", "/me"); got != "nobody apple" {
				t.Errorf("anonymous client after the revocations: %q", got)
			}

			if !b.sweeper {
				r := cli(0, "purge")
				if !strings.Contains(r.stdout, "nothing to purge") {
					t.Errorf("purge: %s", r.stdout)
				}
				return
			}
			// A session the application created three hours ago expired an
			// hour ago (idle timeout 2h); purge removes it and only it.
			a.now = func() time.Time { return time.Now().Add(-3 * time.Hour) }
			old := a.client()
			old.do("POST", "/login?user=carol")
			a.now = time.Now
			p := decodeJSON[map[string]any](t, cli(0, "purge", "--json"))
			if p["purged"] != float64(1) && !(b.ttl && p["purged"] == float64(0)) {
				t.Errorf("purge: %v, want 1 purged", p)
			}
			p = decodeJSON[map[string]any](t, cli(0, "purge", "--json"))
			if p["purged"] != float64(0) {
				t.Errorf("second purge: %v, want 0", p)
			}
			if got := bob.do("GET", "/me"); got != "bob " {
				t.Errorf("bob after purge: %q", got)
			}
		})
	}
}

// TestMigrateKeepsClientsSignedIn: after migrate copies the sessions that
// clients created over HTTP, an application switched to the target store
// serves the same clients with the same cookies: signed in as the same
// users, with their values, expiries and the target's user index.
func TestMigrateKeepsClientsSignedIn(t *testing.T) {
	for _, b := range httpBackends {
		if b.name == "sqlite" {
			continue
		}
		t.Run("sqlite to "+b.name, func(t *testing.T) {
			a := newHTTPApp(t, "sqlite://"+filepath.Join(t.TempDir(), "from.sqlite"))
			alice1, alice2, anon := a.client(), a.client(), a.client()
			alice1.do("POST", "/login?user=alice")
			alice1.do("POST", "/add?item=pear")
			alice2.do("POST", "/login?user=alice")
			anon.do("POST", "/add?item=apple")
			before := decodeJSON[listJSON](t, mustRun(t, 0, "list", "--store", a.url, "--json"))

			to := b.url(t)
			r := decodeJSON[map[string]any](t, mustRun(t, 0, "migrate", "--from", a.url, "--to", to, "--json"))
			if r["copied"] != float64(3) {
				t.Errorf("migrate: %v, want 3 copied", r)
			}
			after := decodeJSON[listJSON](t, mustRun(t, 0, "list", "--store", to, "--json"))
			if fmt.Sprint(after.Sessions) != fmt.Sprint(before.Sessions) {
				t.Errorf("on the target:\n%+v\nwant as on the source:\n%+v", after.Sessions, before.Sessions)
			}
			mine := decodeJSON[listJSON](t, mustRun(t, 0, "list", "--store", to, "--user", "alice", "--json"))
			if len(mine.Sessions) != 2 {
				t.Errorf("list --user alice on the target: %+v", mine)
			}

			// The application moves to the target store.
			a.store.Close()
			a.url = to
			a.open()
			for c, want := range map[*httpClient]string{alice1: "alice pear", alice2: "alice ", anon: "nobody apple"} {
				if got := c.do("GET", "/me"); got != want {
					t.Errorf("after the switch a client is %q, want %q", got, want)
				}
			}
		})
	}
}

// TestCommandsOnExpressHTTPSessions: sessions a Go application sharing an
// express-session store writes (compat/express, Passport's user) are
// listed, shown and revoked by the CLI on the store's express layout, and
// a revoked client is signed out.
func TestCommandsOnExpressHTTPSessions(t *testing.T) {
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"connect-redis", func(t *testing.T) string {
			u, _ := redisURL(t)
			return withParam(u, "layout", "connect-redis")
		}},
		{"connect-pg-simple", func(t *testing.T) string {
			base := testenv.Getenv(t, testenv.PostgresURLEnv)
			u := withParam(withParam(base, "layout", "connect-pg-simple"), "table", uniqueName("skcli_cps_"))
			t.Cleanup(func() {
				s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true, NoSweeper: true})
				if err == nil {
					s.(interface{ DropTable(context.Context) error }).DropTable(context.Background())
					s.Close()
				}
			})
			return u
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			a := &httpApp{t: t, url: b.url(t), now: time.Now, express: true}
			a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				(*a.handler.Load()).ServeHTTP(w, r)
			}))
			t.Cleanup(a.srv.Close)
			a.open()
			t.Cleanup(func() { a.store.Close() })
			store := "--store=" + a.url

			alice, bob, anon := a.client(), a.client(), a.client()
			alice.do("POST", "/login?user=alice")
			bob.do("POST", "/login?user=bob")
			anon.do("POST", "/add?item=apple")
			if got := alice.do("GET", "/me"); got != "alice " {
				t.Fatalf("alice after login: %q", got)
			}

			st := decodeJSON[map[string]any](t, mustRun(t, 0, "stats", store, "--json"))
			if st["sessions"] != float64(3) || st["with_user"] != float64(2) || st["age_unknown"] != float64(3) {
				t.Errorf("stats: %v, want 3 sessions, 2 with a user, 3 of unknown age", st)
			}
			mine := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--user", "alice", "--json"))
			if len(mine.Sessions) != 1 || mine.Sessions[0].Key != alice.id() {
				t.Errorf("list --user alice: %+v, want the session %s", mine, alice.id())
			}
			shown := decodeJSON[map[string]any](t, mustRun(t, 0, "show", store, bob.id(), "--json"))
			if shown["user"] != "bob" {
				t.Errorf("show: %v", shown)
			}
			mustRun(t, 0, "revoke", store, alice.id())
			if got := alice.do("GET", "/me"); got != "nobody " {
				t.Errorf("after revoke alice is %q, want signed out", got)
			}
			if got := bob.do("GET", "/me"); got != "bob " {
				t.Errorf("bob after revoking alice: %q", got)
			}
			r := mustRun(t, 1, "revoke", store, "--user", "bob")
			if !strings.Contains(r.stderr, "no user index") {
				t.Errorf("revoke --user on an express layout: %s", r.stderr)
			}
		})
	}
}

// mongoURL returns the test MongoDB server's URL with a fresh collection,
// which is dropped when the test ends.
func mongoURL(t *testing.T) string {
	t.Helper()
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	u := withParam(strings.TrimSuffix(base, "/")+"/sessionkit_cli_test", "collection", uniqueName("skcli_"))
	t.Cleanup(func() {
		s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoSweeper: true})
		if err == nil {
			s.(*mongostore.Store).Collection().Drop(context.Background())
			s.Close()
		}
	})
	return u
}
