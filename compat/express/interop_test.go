package express_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// The interop tests run the Express app in testdata/nodeapp (express-session,
// connect-redis / connect-pg-simple / connect-mongo, Passport) beside a Go
// app on the same store, with one cookie jar: both listen on 127.0.0.1, and
// cookies are per host, not per port, so the browser-like client shares its
// session between them.

const (
	newSecret = "the current secret"
	oldSecret = "keyboard cat"
)

type user struct {
	ID   int
	Name string
}

var users = map[int]user{0: {0, "zero"}, 1: {1, "ann"}, 2: {2, "bob"}}

// goApp is the Go side: the same routes as server.js; opts change the
// Manager after Configure.
func goApp(t *testing.T, store sessionkit.Store, opts ...func(*sessionkit.Manager)) *httptest.Server {
	m := sessionkit.New(store)
	if err := express.Configure(m, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(m)
	}
	a := auth.New(m, func(u user) string { return strconv.Itoa(u.ID) },
		func(_ context.Context, key string) (user, error) {
			id, err := strconv.Atoi(key)
			u, ok := users[id]
			if err != nil || !ok {
				return user{}, auth.ErrUserNotFound
			}
			return u, nil
		})
	express.UsePassport(a)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var name any
		if u, err := a.User(r); err == nil {
			name = u.Name
		} else if !errors.Is(err, auth.ErrNotAuthenticated) {
			http.Error(w, err.Error(), 500)
			return
		}
		s := sessionkit.From(r.Context())
		writeJSON(w, map[string]any{"user": name, "keys": s.Keys(), "stored": !s.IsNew()})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		if err := a.Login(w, r, users[id]); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Logout(w, r); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), json.RawMessage(r.URL.Query().Get("v"))); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	// /maxage?d=<duration>: this session's maxAge, set from Go.
	mux.HandleFunc("POST /maxage", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		s := sessionkit.From(r.Context())
		if err == nil {
			err = s.SetIdleTimeout(d)
		}
		if err == nil {
			err = s.RememberMe(true)
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := sessionkit.Get[json.RawMessage](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if v == nil {
			v = json.RawMessage("null")
		}
		writeJSON(w, map[string]any{"value": v})
	})
	srv := httptest.NewServer(a.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// startNode runs server.js for store kind ("redis", "pg", "mongo") and
// returns its base URL; env adds to (or overrides) its environment.
func startNode(t *testing.T, kind, storeURL, storeName string, env ...string) string {
	t.Helper()
	modules := testenv.Getenv(t, testenv.NodeModulesEnv)
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.SkipOrFail(t, "node is not installed")
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "nodeapp", "server.js"))
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+modules,
		"PORT="+strconv.Itoa(port),
		"STORE="+kind,
		"STORE_URL="+storeURL,
		"STORE_NAME="+storeName,
		`SECRETS=["`+newSecret+`","`+oldSecret+`"]`,
		"MAX_AGE=3600000",
	)
	cmd.Env = append(cmd.Env, env...)
	dieWithParent(cmd)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("node stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if !ok && sc.Text() == "listening" {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("the node app exited before listening:\n%s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the node app did not start:\n%s", stderr.String())
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// client is a browser: one cookie jar for both apps.
type client struct {
	t   *testing.T
	jar *cookiejar.Jar
	hc  *http.Client
}

func newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, jar: jar, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *client) do(method, u string, form url.Values) map[string]any {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %s: %s", method, u, resp.Status, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, u, err, b)
	}
	return m
}

func (c *client) get(u string) map[string]any  { return c.do("GET", u, nil) }
func (c *client) post(u string) map[string]any { return c.do("POST", u, url.Values{}) }

// setCookie replaces the session cookie, as a browser holding an older
// cookie would send it.
func (c *client) setCookie(base, value string) {
	u, _ := url.Parse(base)
	c.jar.SetCookies(u, []*http.Cookie{{Name: express.DefaultCookieName, Value: value, Path: "/"}})
}

// runInterop is the scenario every store layout must pass.
func runInterop(t *testing.T, store sessionkit.Store, nodeURL string) {
	goURL := goApp(t, store).URL
	c := newClient(t)
	wantUser := func(base string, want any) map[string]any {
		t.Helper()
		got := c.get(base + "/whoami")
		if got["user"] != want {
			t.Fatalf("%s/whoami: user = %v, want %v (%v)", base, got["user"], want, got)
		}
		return got
	}

	// Sign in on Node: Go sees the user.
	c.do("POST", nodeURL+"/login", url.Values{"username": {"ann"}, "password": {"pw1"}})
	wantUser(goURL, "ann")
	wantUser(nodeURL, "ann")

	// Node's values survive Go's writes byte for byte; Go's changes reach Node.
	c.post(nodeURL + "/set?k=note&v=" + url.QueryEscape(`{"html":"<b>&</b>","sep":"\u2028","n":1.5}`))
	sid := c.get(nodeURL + "/whoami")["id"].(string)
	rec, err := store.Load(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	// express-session computes originalMaxAge as (now + maxAge) - now with
	// two clock reads, so it is sometimes 1 ms short: the Go side keeps
	// whatever Node stored.
	nodeMaxAge := regexp.MustCompile(`"originalMaxAge":(\d+),`).FindString(string(rec.Data))
	if nodeMaxAge != `"originalMaxAge":3600000,` && nodeMaxAge != `"originalMaxAge":3599999,` {
		t.Fatalf("node stored %s", rec.Data)
	}
	c.post(goURL + "/set?k=count&v=5")
	if rec, err = store.Load(context.Background(), sid); err != nil {
		t.Fatal(err)
	}
	// Written by Go: Node's keys in their order and bytes, Go's appended.
	wantPrefix := `{"cookie":{` + nodeMaxAge + `"expires":"`
	wantRest := `"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":1},"note":{"html":"<b>&</b>","sep":"` + "\u2028" + `","n":1.5},"count":5}`
	if got := string(rec.Data); !strings.HasPrefix(got, wantPrefix) || !strings.HasSuffix(got, wantRest) {
		t.Fatalf("stored after a Go write:\n%s\nwant %s…%s", got, wantPrefix, wantRest)
	}
	if got := c.get(nodeURL + "/get?k=count"); got["value"] != 5.0 {
		t.Fatalf("node reads count = %v", got["value"])
	}
	note := c.get(nodeURL + "/get?k=note")["value"].(map[string]any)
	if note["html"] != "<b>&</b>" || note["sep"] != "\u2028" || note["n"] != 1.5 {
		t.Fatalf("node reads note = %v", note)
	}
	c.post(nodeURL + "/set?k=count&v=6")
	if got := c.get(goURL + "/get?k=count"); got["value"] != 6.0 {
		t.Fatalf("go reads count = %v", got["value"])
	}
	c.post(goURL + "/set?k=count&v=7")
	node := wantUser(nodeURL, "ann")
	sess := node["session"].(map[string]any)
	if sess["count"] != 7.0 || sess["passport"].(map[string]any)["user"] != 1.0 {
		t.Fatalf("node session = %v", sess)
	}

	// A cookie signed with the old secret works on both sides.
	id := node["id"].(string)
	old, _ := express.NewSigner(oldSecret)
	c.setCookie(goURL, old.Sign(id))
	wantUser(goURL, "ann")
	c.setCookie(goURL, old.Sign(id))
	wantUser(nodeURL, "ann")

	// Go signs out: Node sees the user signed out.
	c.post(goURL + "/logout")
	wantUser(nodeURL, nil)
	wantUser(goURL, nil)

	// Go signs in (user 0 counts as a user): Node's req.user sees it.
	c.post(goURL + "/login?id=0")
	wantUser(nodeURL, "zero")
	c.post(goURL + "/login?id=2")
	// express-session reads what Go wrote and would store it unchanged.
	raw := c.get(nodeURL + "/raw")
	rec, err = store.Load(context.Background(), raw["id"].(string))
	if err != nil || string(rec.Data) != raw["raw"] {
		t.Fatalf("Go wrote %s (%v)\nexpress-session re-serializes %s", rec.Data, err, raw["raw"])
	}
	wantUser(nodeURL, "bob")
	wantUser(goURL, "bob")

	// Node signs out: Go sees no user; Passport leaves "passport":{}.
	c.post(nodeURL + "/logout")
	wantUser(goURL, nil)

	// Node destroys: Go sees no session.
	c.do("POST", nodeURL+"/login", url.Values{"username": {"ann"}, "password": {"pw1"}})
	wantUser(goURL, "ann")
	c.post(nodeURL + "/destroy")
	if got := wantUser(goURL, nil); got["stored"] != false {
		t.Fatalf("go still finds a session after node destroyed it: %v", got)
	}
}

func nodeModulesOrSkip(t *testing.T) {
	testenv.Getenv(t, testenv.NodeModulesEnv)
}
