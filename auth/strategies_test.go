package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

const aliceToken = "tok_alice.0123456789abcdef"

// withAPI mounts stateless routes: bearer, API key and HTTP Basic.
func withAPI(e *env) {
	tokens := auth.StaticTokens(map[string]User{aliceToken: {ID: "1", Name: "alice"}})
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := e.a.User(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, u.Name)
	})
	e.mux.Handle("/api/bearer", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: tokens}).Then(whoami))
	e.mux.Handle("/api/key", e.a.Authenticate(auth.Options[User]{}, &auth.APIKey[User]{Verify: tokens}).Then(whoami))
	e.mux.Handle("/api/basic", e.a.Authenticate(auth.Options[User]{},
		&auth.Basic[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil), Realm: "admin"}).Then(whoami))
	e.mux.Handle("/api/any", e.a.Authenticate(auth.Options[User]{},
		&auth.Bearer[User]{Verify: tokens}, &auth.Basic[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}).Then(whoami))
	e.mux.Handle("/api/down", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: func(context.Context, string) (User, error) {
		return User{}, errors.New("token database down")
	}}).Then(whoami))
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestStatelessStrategies(t *testing.T) {
	e := newEnv(t)
	withAPI(e)
	e.addUser("3", "carol", "pass:word") // RFC 7617: the password may hold colons
	cases := []struct {
		path      string
		header    []string
		code      int
		body      string
		challenge string
	}{
		{"/api/bearer", []string{"Authorization", "Bearer " + aliceToken}, 200, "alice", ""},
		{"/api/bearer", []string{"Authorization", "bearer " + aliceToken}, 200, "alice", ""},
		{"/api/bearer", nil, 401, `"unauthorized"`, `Bearer realm="api"`},
		{"/api/bearer", []string{"Authorization", "Bearer " + aliceToken + "x"}, 401, `"unauthorized"`, `Bearer realm="api", error="invalid_token"`},
		{"/api/bearer", []string{"Authorization", "Bearer tok en"}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", "Bearer tök"}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", "Bearer ==abc"}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", "Bearer " + strings.Repeat("a", auth.MaxTokenLength+1)}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", "Bearer"}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", basic("alice", "wonderland")}, 401, `"unauthorized"`, `Bearer realm="api"`},
		{"/api/key", []string{"X-API-Key", aliceToken}, 200, "alice", ""},
		{"/api/key", []string{"X-API-Key", "nope"}, 401, `"unauthorized"`, ""},
		{"/api/key", []string{"X-API-Key", "a\u00e9b"}, 400, `"invalid_request"`, ""},
		{"/api/key", nil, 401, `"unauthorized"`, ""},
		{"/api/basic", []string{"Authorization", basic("alice", "wonderland")}, 200, "alice", ""},
		{"/api/basic", []string{"Authorization", basic("carol", "pass:word")}, 200, "carol", ""},
		{"/api/basic", []string{"Authorization", basic("ali\x00ce", "wonderland")}, 400, `"invalid_request"`, ""},
		{"/api/basic", []string{"Authorization", basic("alice", "wrong")}, 401, auth.MsgInvalidCredentials, `Basic realm="admin", charset="UTF-8"`},
		{"/api/basic", []string{"Authorization", basic("nobody", "wrong")}, 401, auth.MsgInvalidCredentials, `Basic realm="admin", charset="UTF-8"`},
		{"/api/basic", []string{"Authorization", "Basic !!!"}, 400, `"invalid_request"`, ""},
		{"/api/basic", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon"))}, 400, `"invalid_request"`, ""},
		{"/api/basic", nil, 401, `"unauthorized"`, `Basic realm="admin", charset="UTF-8"`},
		{"/api/any", []string{"Authorization", basic("bob", "builder")}, 200, "bob", ""},
		{"/api/any", []string{"Authorization", "Bearer " + aliceToken}, 200, "alice", ""},
		{"/api/down", []string{"Authorization", "Bearer " + aliceToken}, 503, "unavailable", ""},
	}
	for _, tc := range cases {
		c := e.client()
		r := c.do("GET", tc.path, nil, tc.header...)
		if r.code != tc.code || !strings.Contains(r.body, tc.body) {
			t.Errorf("GET %s %q = %d %q, want %d containing %q", tc.path, tc.header, r.code, r.body, tc.code, tc.body)
		}
		if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("GET %s %q: WWW-Authenticate %q, want %q", tc.path, tc.header, got, tc.challenge)
		}
		if len(r.header.Values("Set-Cookie")) != 0 || c.cookie() != nil {
			t.Errorf("GET %s %q set a cookie: %q", tc.path, tc.header, r.header.Values("Set-Cookie"))
		}
		if strings.Contains(r.body, aliceToken) {
			t.Errorf("GET %s echoed the token", tc.path)
		}
	}
	// Both failures' challenges are offered.
	r := e.client().do("GET", "/api/any", nil)
	if got := r.header.Values("WWW-Authenticate"); len(got) != 2 {
		t.Errorf("challenges of two strategies: %q", got)
	}
	// A stateless success changes no existing session either.
	c := e.client()
	c.login("bob", "builder", "")
	before := c.cookie().Value
	if r := c.do("GET", "/api/bearer", nil, "Authorization", "Bearer "+aliceToken); r.body != "alice" || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("bearer with a session cookie: %q %q", r.body, r.header.Values("Set-Cookie"))
	}
	if c.cookie().Value != before || c.whoami() != "bob" {
		t.Error("a stateless login changed the session")
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer " + aliceToken, "Bearer", "bearer  x", "Basic abc", "Bearer a=b", "Bearer ===", ""} {
		f.Add(s)
	}
	b := &auth.Bearer[User]{Verify: auth.StaticTokens(map[string]User{aliceToken: {ID: "1"}})}
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		res := b.Authenticate(r)
		if res.Outcome == auth.Succeeded && h != "Bearer "+aliceToken && !strings.EqualFold(h, "bearer "+aliceToken) {
			t.Fatalf("header %q authenticated", h)
		}
		if res.Outcome != auth.Succeeded && res.Outcome != auth.Failed {
			t.Fatalf("header %q: outcome %v", h, res.Outcome)
		}
	})
}

func TestStaticTokens(t *testing.T) {
	verify := auth.StaticTokens(map[string]string{"a-long-token": "ada", "another-token": "bob"})
	for tok, want := range map[string]string{"a-long-token": "ada", "another-token": "bob"} {
		if u, err := verify(context.Background(), tok); err != nil || u != want {
			t.Errorf("%q: %q %v", tok, u, err)
		}
	}
	for _, tok := range []string{"", "a-long-toke", "a-long-token ", "A-LONG-TOKEN"} {
		if _, err := verify(context.Background(), tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%q: %v, want ErrInvalidToken", tok, err)
		}
	}
}

func TestFlashes(t *testing.T) {
	e := newEnv(t)
	e.mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		for _, kv := range strings.Split(r.URL.Query().Get("add"), ",") {
			k, v, _ := strings.Cut(kv, ":")
			if err := auth.AddFlash(s, k, v); err != nil {
				http.Error(w, err.Error(), 500)
			}
		}
	})
	e.mux.HandleFunc("GET /flash", func(w http.ResponseWriter, r *http.Request) {
		var kinds []string
		if k := r.URL.Query().Get("kinds"); k != "" {
			kinds = strings.Split(k, ",")
		}
		fl, err := auth.Flashes(sessionkit.From(r.Context()), kinds...)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, f := range fl {
			fmt.Fprint(w, f.Kind, ":", f.Message, ";")
		}
	})
	c := e.client()
	c.do("POST", "/flash?add=info:one,error:bad,info:two", nil)
	// The connect-flash layout, kinds in the order first added.
	if got := c.do("GET", "/get?k=flash", nil); got.code != 500 && got.body != "" {
		t.Logf("raw: %s", got.body)
	}
	if got := c.do("GET", "/flash?kinds=error", nil).body; got != "error:bad;" {
		t.Errorf("error flashes: %q", got)
	}
	if got := c.do("GET", "/flash", nil).body; got != "info:one;info:two;" {
		t.Errorf("remaining flashes: %q", got)
	}
	if got := c.do("GET", "/flash", nil).body; got != "" {
		t.Errorf("flashes read twice: %q", got)
	}
	// A value of another shape under the key is dropped, not a 500.
	e.mux.HandleFunc("POST /badflash", func(w http.ResponseWriter, r *http.Request) {
		_ = sessionkit.From(r.Context()).Set(auth.FlashKey, []int{1, 2})
	})
	c.do("POST", "/badflash", nil)
	if r := c.do("GET", "/flash", nil); r.code != 500 {
		t.Errorf("unreadable flash: %d %q, want the error reported", r.code, r.body)
	}
	if r := c.do("GET", "/flash", nil); r.code != 200 || r.body != "" {
		t.Errorf("after an unreadable flash: %d %q", r.code, r.body)
	}
}

func TestAuthenticateOptions(t *testing.T) {
	e := newEnv(t)
	local := &auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}
	e.mux.Handle("/a/flash", e.a.Authenticate(auth.Options[User]{
		SuccessRedirect: "/home", FailureRedirect: "/login", SuccessFlash: true, FailureFlash: true,
		SuccessReturnTo: true,
	}, local))
	e.mux.Handle("/a/status", e.a.Authenticate(auth.Options[User]{}, local))
	e.mux.Handle("/a/custom", e.a.Authenticate(auth.Options[User]{FailureMessage: "Nope.", Callback: func(w http.ResponseWriter, r *http.Request, res auth.Result[User]) {
		if res.Outcome == auth.Succeeded {
			if err := e.a.LoginResult(w, r, res); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		fmt.Fprintf(w, "%v %d %s %s", res.Outcome, res.Status, res.Message, res.User.Name)
	}}, local))
	e.mux.Handle("/a/next", e.a.Authenticate(auth.Options[User]{}, local).Then(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		fmt.Fprint(w, "next ", u.Name)
	})))
	e.mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fl, _ := auth.Flashes(sessionkit.From(r.Context()))
		fmt.Fprint(w, fl)
	})
	good := url.Values{"username": {"alice"}, "password": {"wonderland"}}
	bad := url.Values{"username": {"alice"}, "password": {"nope"}}

	c := e.client()
	if r := c.do("POST", "/a/flash", bad); r.code != 303 || r.location != "/login" {
		t.Errorf("failure redirect: %d %q", r.code, r.location)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "[{error "+auth.MsgInvalidCredentials+"}]" {
		t.Errorf("failure flash: %q", got)
	}
	// API clients get the status instead of the redirect.
	if r := c.do("POST", "/a/flash", bad, "Accept", "application/json"); r.code != 422 || !strings.Contains(r.body, auth.MsgInvalidCredentials) {
		t.Errorf("API failure: %d %q", r.code, r.body)
	}
	c.do("GET", "/flashes", nil)
	// Return-to wins over SuccessRedirect when asked for; an unsafe one
	// is ignored.
	f := url.Values{"username": {"alice"}, "password": {"wonderland"}, "return_to": {"//evil.example"}}
	if r := c.do("POST", "/a/flash", f); r.code != 303 || r.location != "/home" {
		t.Errorf("unsafe return_to: %d %q", r.code, r.location)
	}
	f.Set("return_to", "/private/x")
	if r := c.do("POST", "/a/flash", f); r.code != 303 || r.location != "/private/x" {
		t.Errorf("return_to: %d %q", r.code, r.location)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "[{success "+auth.MsgSignedIn+"} {success "+auth.MsgSignedIn+"}]" {
		t.Errorf("success flash: %q", got)
	}
	// Without a failure redirect: the strategy's status and message.
	c2 := e.client()
	if r := c2.do("POST", "/a/status", bad); r.code != 422 || r.body != auth.MsgInvalidCredentials {
		t.Errorf("failure without redirect: %d %q", r.code, r.body)
	}
	if r := c2.do("GET", "/a/status", nil); r.code != 401 {
		t.Errorf("GET (Local passes) = %d, want 401", r.code)
	}
	if r := c2.do("POST", "/a/status", good); r.code != 303 || r.location != "/" {
		t.Errorf("success without redirect: %d %q", r.code, r.location)
	}
	// Custom callback.
	c3 := e.client()
	if r := c3.do("POST", "/a/custom", bad); r.body != "Failed 422 Nope." {
		t.Errorf("callback failure: %q", r.body)
	}
	if r := c3.do("POST", "/a/custom", good); r.body != "Succeeded 0  alice" || c3.whoami() != "alice" {
		t.Errorf("callback success: %q", r.body)
	}
	// Next.
	if r := e.client().do("POST", "/a/next", good); r.body != "next alice" {
		t.Errorf("next: %q", r.body)
	}
}

// RequireRecent with a password login: an old login is sent to confirm
// the password, and the form knows why.
func TestRequireRecentPassword(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t)
	e.m.Now = clock
	e.mux.Handle("/danger", e.a.RequireRecent(15*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "danger zone")
	})))
	c := e.client()
	if r := c.do("GET", "/danger", nil); r.code != 303 || !strings.HasPrefix(r.location, "/login?return_to=%2Fdanger") {
		t.Fatalf("anonymous: %d %q", r.code, r.location)
	}
	c.login("alice", "wonderland", "")
	if r := c.do("GET", "/danger", nil); r.body != "danger zone" {
		t.Fatalf("fresh login: %d %q", r.code, r.body)
	}
	now = now.Add(16 * time.Minute)
	r := c.do("GET", "/danger", nil)
	if r.code != 303 || r.location != "/login?max_age=900&return_to=%2Fdanger" {
		t.Fatalf("old login: %d %q", r.code, r.location)
	}
	page := c.do("GET", r.location, nil)
	if page.code != 200 || !strings.Contains(page.body, `value="/danger"`) {
		t.Fatalf("re-authentication page: %d %s", page.code, page.body)
	}
	if r := c.login("alice", "wonderland", "/danger"); r.location != "/danger" {
		t.Fatalf("re-authentication: %d %q", r.code, r.location)
	}
	if r := c.do("GET", "/danger", nil); r.body != "danger zone" {
		t.Fatalf("after re-authentication: %d %q", r.code, r.body)
	}
}

// FormLogin tells its Render function when the page is a re-authentication:
// a logged-in user sent by RequireRecent (MaxAgeParam set). An anonymous
// visitor of the same URL, or a logged-in one without the parameter, gets
// the plain login page.
func TestFormLoginReauthFlag(t *testing.T) {
	e := newEnv(t)
	e.mux.Handle("/signin", &auth.FormLogin[User]{
		Auth:   e.a,
		Verify: auth.PasswordVerifier(cheap, e.lookup, nil),
		Render: func(w http.ResponseWriter, _ *http.Request, status int, f auth.LoginForm) {
			w.WriteHeader(status)
			fmt.Fprintf(w, "reauth=%v return_to=%s", f.Reauth, f.ReturnTo)
		},
	})
	page := e.a.ReauthURL("/danger", 10*time.Minute)
	page = "/signin" + strings.TrimPrefix(page, "/login")
	anon, c := e.client(), e.client()
	c.login("alice", "wonderland", "")
	for _, tc := range []struct {
		c    *client
		path string
		want string
	}{
		{c, page, "reauth=true return_to=/danger"},
		{anon, page, "reauth=false return_to=/danger"},
		{c, "/signin?return_to=%2Fdanger", "reauth=false return_to=/danger"},
	} {
		if r := tc.c.do("GET", tc.path, nil); r.code != 200 || r.body != tc.want {
			t.Errorf("GET %s = %d %q, want %q", tc.path, r.code, r.body, tc.want)
		}
	}
}

// A strategy (or a provider whose clock runs ahead) reporting an AuthTime
// in the future does not make the login count as recent until then: the
// login counts as made when it happened.
func TestFutureAuthTimeIsTheLoginTime(t *testing.T) {
	now := time.Now()
	e := newEnv(t)
	e.m.Now = func() time.Time { return now }
	ahead := auth.StrategyFunc[User](func(r *http.Request) auth.Result[User] {
		res := auth.Success(User{ID: "1", Name: "alice"})
		res.AuthTime = now.Add(24 * time.Hour)
		return res
	})
	e.mux.Handle("POST /auth/ahead", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/"}, ahead))
	e.mux.Handle("/danger", e.a.RequireRecent(10*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "danger zone")
	})))
	c := e.client()
	if r := c.do("POST", "/auth/ahead", url.Values{}); r.code != http.StatusSeeOther {
		t.Fatalf("login = %d", r.code)
	}
	if r := c.do("GET", "/danger", nil); r.body != "danger zone" {
		t.Fatalf("right after the login: %d %q", r.code, r.body)
	}
	now = now.Add(11 * time.Minute)
	if r := c.do("GET", "/danger", nil); r.code != http.StatusSeeOther || !strings.Contains(r.location, "max_age=600") {
		t.Errorf("11 minutes after a login with a future AuthTime: %d to %q, want 303 to re-authenticate", r.code, r.location)
	}
}

// Local's "keep me signed in" choice belongs to the login: a stateless
// success (Options.Stateless, Passport's session: false) leaves the
// request's session as it was, its cookie persistence included, while
// the same form through a stateful handler applies it.
func TestLocalRememberOnlyAtLogin(t *testing.T) {
	e := newEnv(t)
	local := &auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil), RememberField: "remember"}
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		fmt.Fprint(w, u.Name)
	})
	e.mux.Handle("POST /api/check", e.a.Authenticate(auth.Options[User]{Stateless: true}, local).Then(who))
	e.mux.Handle("POST /auth/local", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/"}, local))
	c := e.client()
	c.do("POST", "/set?k=cart&v=1", nil) // a persistent session (Manager.Persistent)
	r := c.do("POST", "/api/check", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if r.code != 200 || r.body != "alice" {
		t.Fatalf("stateless check = %d %q", r.code, r.body)
	}
	if got := r.header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("a stateless success without the remember box sent %q", got)
	}
	r = c.do("POST", "/auth/local", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("login = %d", r.code)
	}
	if sc := strings.Join(r.header.Values("Set-Cookie"), "; "); sc == "" || strings.Contains(sc, "Max-Age") || strings.Contains(sc, "Expires") {
		t.Errorf("login without the remember box: Set-Cookie %q, want a browser-session cookie", sc)
	}
}

// SuccessReturnTo honours a return-to page a Node app sharing the session
// put under ReturnToKey (connect-ensure-login's req.session.returnTo), once
// and only when it is a safe local path; the request's parameter wins.
func TestSuccessReturnToFromSession(t *testing.T) {
	e := newEnv(t)
	local := &auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}
	e.mux.Handle("POST /auth/local", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", SuccessReturnTo: true}, local))
	c := e.client()
	form := url.Values{"username": {"alice"}, "password": {"wonderland"}}
	for _, tc := range []struct{ stored, param, want string }{
		{"/orders/7", "", "/orders/7"},
		{"", "", "/home"}, // used once
		{"//evil.example", "", "/home"},
		{"/orders/7", "/cart", "/cart"},
		{"", "", "/home"}, // removed even when the parameter won
	} {
		if tc.stored != "" {
			c.do("POST", "/set?k="+auth.ReturnToKey+"&v="+url.QueryEscape(tc.stored), nil)
		}
		path := "/auth/local"
		if tc.param != "" {
			path += "?return_to=" + url.QueryEscape(tc.param)
		}
		if r := c.do("POST", path, form); r.code != http.StatusSeeOther || r.location != tc.want {
			t.Errorf("stored %q, parameter %q: %d to %q, want 303 to %q", tc.stored, tc.param, r.code, r.location, tc.want)
		}
	}
}

// A login record belongs to the user it was made for. When another system
// sharing the session changes only the user (Passport's req.logout then
// req.login keep every other value), the new user does not inherit the
// old login's time, address or user agent: their login is not recent, and
// the session list shows no login details.
func TestLoginInfoOfAnotherUserIgnored(t *testing.T) {
	now := time.Now()
	e := newEnv(t)
	e.m.Now = func() time.Time { return now }
	e.mux.HandleFunc("POST /node-switch", func(w http.ResponseWriter, r *http.Request) {
		// What a Node app does to the shared session: the user field
		// changes, "_login" stays.
		s := sessionkit.From(r.Context())
		if err := auth.DefaultUserKeyField.Write(s, "2"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := s.SetUserKey("2"); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	e.mux.Handle("/danger", e.a.RequireRecent(15*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "danger zone")
	})))
	e.mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		li, err := e.a.LoginInfo(r)
		list, _ := e.a.Sessions(r)
		var loginAt time.Time
		if len(list) == 1 {
			loginAt = list[0].LoginAt
		}
		fmt.Fprintf(w, "%s at=%d user=%q err=%v listed=%v", u.Name, li.At, li.User, err, !loginAt.IsZero())
	})
	c := e.client()
	c.login("alice", "wonderland", "")
	want := fmt.Sprintf(`alice at=%d user="1" err=<nil> listed=true`, now.UnixMilli())
	if r := c.do("GET", "/info", nil); r.body != want {
		t.Fatalf("alice's login: %q, want %q", r.body, want)
	}
	if r := c.do("GET", "/danger", nil); r.body != "danger zone" {
		t.Fatalf("alice's fresh login: %d %q", r.code, r.body)
	}
	if r := c.do("POST", "/node-switch", nil); r.code != 200 {
		t.Fatalf("switch: %d %q", r.code, r.body)
	}
	if r := c.do("GET", "/info", nil); r.body != `bob at=0 user="" err=<nil> listed=false` {
		t.Errorf("bob after a switch that kept alice's record: %q", r.body)
	}
	if r := c.do("GET", "/danger", nil); r.code != 303 {
		t.Errorf("bob with alice's login time: %d %q, want 303 to re-authenticate", r.code, r.body)
	}
}
