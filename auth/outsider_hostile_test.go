package auth_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit/auth"
)

// Hostile requests to every handler the package ships, over real HTTP:
// none panics (the connection would drop) or answers 5xx; each gets the
// 4xx (or the failure redirect) its doc comment names.
//
//	FormLogin: "on failure it renders the form again with a message that
//	does not reveal whether the username exists (status 422 ...)"
//	"Other methods get 405."
//	Local: "A missing field or wrong credentials fail with status 422"
//	Bearer: "a token of the wrong shape (not token68 characters, longer
//	than MaxTokenLength, several Authorization headers) fails with 400
//	and error="invalid_request" without reaching Verify"
//	Basic: "malformed credentials fail with 400 without reaching Verify"
//	APIKey: "a key of the wrong shape (control or non-ASCII characters,
//	longer than MaxTokenLength, the header repeated) fails with 400"
//	OAuth2: "a missing, unknown, expired or replayed state fails (400,
//	MsgLoginExpired)"
//	RevokeHandler, LogoutHandler: "other methods than POST get 405"
func TestOutsiderHostileInput(t *testing.T) {
	op := newFakeOP(t)
	e := newEnv(t)
	var verified atomic.Int64
	countingVerify := func(ctx context.Context, name, pw string) (User, error) {
		verified.Add(1)
		return auth.PasswordVerifier(cheap, e.lookup, nil)(ctx, name, pw)
	}
	e.mux.Handle("POST /signin", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", FailureRedirect: "/login", FailureFlash: true},
		&auth.Local[User]{Verify: countingVerify}))
	// One route per strategy: behind one Authenticator the first
	// failure's status would answer for all.
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") })
	refuse := func(context.Context, string) (User, error) { verified.Add(1); return User{}, auth.ErrInvalidToken }
	e.mux.Handle("/api/bearer", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: refuse}).Then(api))
	e.mux.Handle("/api/basic", e.a.Authenticate(auth.Options[User]{}, &auth.Basic[User]{Verify: countingVerify}).Then(api))
	e.mux.Handle("/api/key", e.a.Authenticate(auth.Options[User]{}, &auth.APIKey[User]{Verify: refuse}).Then(api))
	gh := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home"}, &auth.OAuth2[User]{
		Config: &oauth2.Config{
			ClientID: op.client, ClientSecret: op.secret,
			Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
			RedirectURL: e.srv.URL + "/auth/gh/callback",
		},
		Profile: func(context.Context, *http.Client, *oauth2.Token) (auth.Identity, error) {
			return auth.Identity{Subject: "4242"}, nil
		},
		MapUser: func(context.Context, auth.Identity) (User, error) { return User{ID: "1", Name: "alice"}, nil },
	})
	e.mux.Handle("GET /auth/gh", gh)
	e.mux.Handle("GET /auth/gh/callback", gh)
	e.mux.Handle("/revoke", &auth.RevokeHandler[User]{Auth: e.a})
	e.mux.Handle("/out", &auth.LogoutHandler[User]{Auth: e.a})

	// Browsers with a login in progress at the provider, whose states
	// the callbacks below use.
	start := func(c *client) (string, string) {
		t.Helper()
		r := c.do("GET", "/auth/gh", nil)
		ask, err := url.Parse(r.location)
		if err != nil || r.code != http.StatusSeeOther {
			t.Fatalf("start: %d to %q", r.code, r.location)
		}
		return r.location, ask.Query().Get("state")
	}
	c, c2 := e.client(), e.client()
	atProvider, state := start(c)
	_, state2 := start(c2)
	// A logged-in browser for the revoke handler.
	in := e.client()
	in.login("alice", "wonderland", "")

	const form = "application/x-www-form-urlencoded"
	b64 := base64.StdEncoding.EncodeToString
	huge := strings.Repeat("a", 70<<10)
	script := `"><script>alert(1)</script>`
	tests := []struct {
		name         string
		by           *client // default: a fresh browser
		method, path string
		ctype, body  string
		header       []string
		code         int
		location     string // for redirects
		notInBody    string
	}{
		{name: "form: bad percent-encoding", method: "POST", path: "/login", ctype: form, body: "username=%zz&password=x", code: 400},
		{name: "form: bad content type parameters", method: "POST", path: "/login", ctype: form + "; charset=\"", body: "username=alice&password=wonderland", code: 400},
		{name: "form: body over 64 KiB", method: "POST", path: "/login", ctype: form, body: "username=" + huge + "&password=x", code: 413},
		{name: "form: multipart", method: "POST", path: "/login", ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--x--\r\n", code: 422},
		{name: "form: JSON", method: "POST", path: "/login", ctype: "application/json", body: `{"username":"alice","password":"wonderland"}`, code: 422},
		{name: "form: no body", method: "POST", path: "/login", code: 422},
		{name: "form: script in username", method: "POST", path: "/login", ctype: form, body: url.Values{"username": {script}, "password": {"x"}}.Encode(), code: 422, notInBody: "<script>"},
		{name: "form: NUL and invalid UTF-8", method: "POST", path: "/login", ctype: form, body: "username=a%00%ff%fe&password=%00", code: 422},
		{name: "form: long fields", method: "POST", path: "/login", ctype: form, body: url.Values{"username": {huge[:30<<10]}, "password": {huge[:30<<10]}}.Encode(), code: 422},
		{name: "form: evil return_to first", method: "POST", path: "/login", ctype: form, body: "return_to=%2F%2Fevil.example&return_to=%2Fok&username=alice&password=wonderland", code: 303, location: "/"},
		{name: "form: script in return_to", method: "GET", path: "/login?return_to=" + url.QueryEscape("/x"+script), code: 200, notInBody: "<script>"},
		{name: "form: huge return_to", method: "GET", path: "/login?max_age=-1&return_to=/" + huge[:60<<10], code: 200, notInBody: huge[:3000]},
		{name: "form: PUT", method: "PUT", path: "/login", ctype: form, body: "username=alice&password=wonderland", code: 405},
		{name: "local: bad body, page", method: "POST", path: "/signin", ctype: form, body: "username=%zz", code: 303, location: "/login"},
		{name: "local: bad body, API", method: "POST", path: "/signin", ctype: form, body: "username=%zz", header: []string{"Accept", "application/json"}, code: 400},
		{name: "local: body over 64 KiB, API", method: "POST", path: "/signin", ctype: form, body: "username=" + huge + "&password=x", header: []string{"Accept", "application/json"}, code: 413},
		{name: "bearer: no token", method: "GET", path: "/api/bearer", header: []string{"Authorization", "Bearer"}, code: 400},
		{name: "bearer: two words", method: "GET", path: "/api/bearer", header: []string{"Authorization", "Bearer a b"}, code: 400},
		{name: "bearer: non-token68", method: "GET", path: "/api/bearer", header: []string{"Authorization", "Bearer ä=x"}, code: 400},
		{name: "bearer: too long", method: "GET", path: "/api/bearer", header: []string{"Authorization", "Bearer " + huge[:auth.MaxTokenLength+1]}, code: 400},
		{name: "basic: not base64", method: "GET", path: "/api/basic", header: []string{"Authorization", "Basic !!!"}, code: 400},
		{name: "basic: no colon", method: "GET", path: "/api/basic", header: []string{"Authorization", "Basic " + b64([]byte("alice"))}, code: 400},
		{name: "basic: empty name", method: "GET", path: "/api/basic", header: []string{"Authorization", "Basic " + b64([]byte(":wonderland"))}, code: 400},
		{name: "basic: invalid UTF-8", method: "GET", path: "/api/basic", header: []string{"Authorization", "Basic " + b64([]byte("\xff\xfe:x"))}, code: 400},
		{name: "basic: control character", method: "GET", path: "/api/basic", header: []string{"Authorization", "Basic " + b64([]byte("al\x01ice:x"))}, code: 400},
		{name: "api key: non-ASCII", method: "GET", path: "/api/key", header: []string{"X-API-Key", "kéy"}, code: 400},
		{name: "api key: too long", method: "GET", path: "/api/key", header: []string{"X-API-Key", huge[:auth.MaxTokenLength+1]}, code: 400},
		{name: "callback: huge state", by: c, method: "GET", path: "/auth/gh/callback?code=x&state=" + huge[:8<<10], code: 400},
		{name: "callback: state as a prefix", by: c, method: "GET", path: "/auth/gh/callback?code=x&state=" + state[:len(state)-1], code: 400},
		{name: "callback: no session", method: "GET", path: "/auth/gh/callback?code=x&state=" + state, code: 400},
		{name: "callback: error only", method: "GET", path: "/auth/gh/callback?error=" + url.QueryEscape(script), code: 400},
		{name: "callback: huge code", by: c2, method: "GET", path: "/auth/gh/callback?code=" + huge[:auth.MaxTokenLength+1] + "&state=" + state2, code: 400},
		{name: "revoke: bad body", by: in, method: "POST", path: "/revoke", ctype: form, body: "handle=%zz", code: 400},
		{name: "revoke: body over 64 KiB", by: in, method: "POST", path: "/revoke", ctype: form, body: "handle=" + huge, code: 413},
		{name: "revoke: GET", by: in, method: "GET", path: "/revoke?handle=x", code: 405},
		{name: "revoke: anonymous", method: "POST", path: "/revoke", ctype: form, body: "handle=x", code: 303, location: "/login"},
		{name: "logout: GET", by: in, method: "GET", path: "/out", code: 405},
		{name: "require: odd Accept", method: "GET", path: "/private/x", header: []string{"Accept", ";;,,q=0,;q=,application/json;q=0.0"}, code: 303, location: "/login?return_to=%2Fprivate%2Fx"},
	}
	for _, tt := range tests {
		by := tt.by
		if by == nil {
			by = e.client()
		}
		req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.body == "" {
			req.Body = http.NoBody
		}
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		for i := 0; i+1 < len(tt.header); i += 2 {
			req.Header.Set(tt.header[i], tt.header[i+1])
		}
		before := verified.Load()
		resp, err := by.hc.Do(req)
		if err != nil {
			t.Errorf("%s: %v (did the handler panic?)", tt.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d to %q, want %d to %q: %.200s", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.code, tt.location, body)
		}
		if tt.notInBody != "" && strings.Contains(string(body), tt.notInBody) {
			t.Errorf("%s: the answer echoes %.40q unescaped", tt.name, tt.notInBody)
		}
		if tt.code == 400 && strings.HasPrefix(tt.path, "/api/") && verified.Load() != before {
			t.Errorf("%s: malformed credentials reached Verify", tt.name)
		}
	}
	// The hostile callbacks did not use up the browser's login in
	// progress, nor log it in.
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("after hostile callbacks: %q", got)
	}
	resp, err := c.hc.Get(atProvider)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	if r := c.do("GET", cb.RequestURI(), nil); r.code != http.StatusSeeOther || r.location != "/home" {
		t.Fatalf("the real callback after hostile ones: %d to %q %s", r.code, r.location, r.body)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("after the real callback: %q", got)
	}
	if got := in.whoami(); got != "alice" {
		t.Fatalf("the revoke attempts logged the user out: %q", got)
	}
}

// The package documentation on the OpenID Connect callback (as fixed:
// it said every success ended with a redirect):
//
//	"with FailureRedirect a callback that fails ends with a redirect that
//	drops code and state from the URL, and so does one that succeeds
//	unless it goes on to a Next handler (no SuccessRedirect or return-to
//	page): that one is answered at the callback's URL, with
//	Referrer-Policy: no-referrer and its code and state used up"
func TestOutsiderOIDCCallbackIntoNext(t *testing.T) {
	e := newOIDCEnv(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "welcome") })
	into := e.a.Authenticate(auth.Options[User]{FailureRedirect: "/login"}, e.oidc).Then(next)
	e.mux.Handle("GET /auth/next", into)
	e.mux.Handle("GET /auth/next/callback", into)
	away := e.a.Authenticate(auth.Options[User]{FailureRedirect: "/login", SuccessRedirect: "/home"}, e.oidc).Then(next)
	e.mux.Handle("GET /auth/away", away)
	e.mux.Handle("GET /auth/away/callback", away)
	// The provider sends the browser to the strategy's RedirectURL; the
	// same answer is taken to each route here (the state belongs to the
	// strategy, not to a path).
	callback := func(c *client, route string) string {
		u, err := url.Parse(e.start(c, route))
		if err != nil {
			t.Fatal(err)
		}
		return route + "/callback?" + u.RawQuery
	}

	c := e.client()
	cb := callback(c, "/auth/next")
	r := c.do("GET", cb, nil)
	if r.code != http.StatusOK || r.body != "welcome" || r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("success into Next: %d to %q %q %v", r.code, r.location, r.body, r.header)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("after the callback: %q", got)
	}
	// Its code and state are used up: the address bar's URL fails, with
	// a redirect.
	if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("the callback URL again: %d to %q %q", r.code, r.location, r.body)
	}

	// With SuccessRedirect, success leaves the callback URL as failure
	// does.
	d := e.client()
	if r := d.do("GET", callback(d, "/auth/away"), nil); r.code != http.StatusSeeOther || r.location != "/home" {
		t.Fatalf("success with SuccessRedirect: %d to %q %q", r.code, r.location, r.body)
	}
	e.op.set(func(op *fakeOP) { op.authErr = "access_denied" })
	for _, route := range []string{"/auth/next", "/auth/away"} {
		f := e.client()
		if r := f.do("GET", callback(f, route), nil); r.code != http.StatusSeeOther || r.location != "/login" {
			t.Fatalf("%s: failure: %d to %q %q", route, r.code, r.location, r.body)
		}
	}
	e.noLeaks()
}
