package auth_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// fakeOP is a small OpenID provider for the fault tests: it signs in
// every authorization request at once (a user with a live session at the
// provider) and lets a test bend each part of its answer. The flows
// against a complete provider implementation run in
// internal/testenv/oidcop.
type fakeOP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	client string
	secret string

	mu       sync.Mutex
	codes    map[string]fakeGrant
	issued   []string // codes, tokens and states seen, for the leak checks
	authErr  string   // authorize answers with this error
	mutate   func(claims map[string]any)
	signer   *ecdsa.PrivateKey // signs with this key instead (bad signature)
	delay    time.Duration     // token endpoint delay
	status   int               // token endpoint status, 0 = 200
	authTime time.Time
	authAsk  url.Values // the last authorization request
	clock    func() time.Time
	exchange int // token requests answered
	// methods is the discovery document's
	// token_endpoint_auth_methods_supported (nil: client_secret_basic);
	// the token endpoint accepts the client's credentials the way it
	// lists and records the way they came in authUsed.
	methods       []string
	authUsed      string
	discoveryDown bool   // discovery answers 500
	userinfoSub   string // the UserInfo endpoint's sub ("": the ID token's)
}

type fakeGrant struct {
	nonce, challenge, redirect string
}

func newFakeOP(t *testing.T) *fakeOP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key, client: "app", secret: "app-secret-" + strconv.Itoa(int(time.Now().UnixNano()%1e6)),
		codes: map[string]fakeGrant{}, authTime: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := op.srv.URL
		op.mu.Lock()
		methods, down := op.methods, op.discoveryDown
		op.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		if methods == nil {
			methods = []string{"client_secret_basic"}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"},
			"token_endpoint_auth_methods_supported": methods,
			"userinfo_endpoint":                     u + "/userinfo",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		op.mu.Lock()
		defer op.mu.Unlock()
		op.authAsk = q
		redirect, _ := url.Parse(q.Get("redirect_uri"))
		back := url.Values{"state": {q.Get("state")}}
		if op.authErr != "" {
			back.Set("error", op.authErr)
		} else if q.Get("client_id") != op.client || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			back.Set("error", "invalid_request")
		} else {
			code := randomToken(t)
			op.codes[code] = fakeGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
			op.issued = append(op.issued, code)
			back.Set("code", code)
		}
		op.issued = append(op.issued, q.Get("state"), q.Get("nonce"))
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		delay, status := op.delay, op.status
		op.exchange++
		op.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		id, secret, ok := r.BasicAuth()
		used := "client_secret_basic"
		if !ok {
			_ = r.ParseForm()
			id, secret, used = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "client_secret_post"
			ok = secret != ""
		}
		op.mu.Lock()
		op.authUsed = used
		allowed := op.methods == nil && used == "client_secret_basic" || slices.Contains(op.methods, used)
		op.mu.Unlock()
		if !ok || !allowed || id != op.client || secret != op.secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		if status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"server_error","error_description":"secret %s"}`, op.secret)
			return
		}
		_ = r.ParseForm()
		op.mu.Lock()
		g, ok := op.codes[r.PostForm.Get("code")]
		delete(op.codes, r.PostForm.Get("code")) // single use
		op.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		access := randomToken(t)
		op.mu.Lock()
		now := time.Now()
		if op.clock != nil {
			now = op.clock()
		}
		claims := map[string]any{
			"iss": op.srv.URL, "sub": "sub-alice", "aud": op.client, "exp": now.Add(5 * time.Minute).Unix(),
			"iat": now.Unix(), "nonce": g.nonce, "auth_time": op.authTime.Unix(),
			"email": "alice@example.com", "email_verified": true, "preferred_username": "alice",
		}
		if op.mutate != nil {
			op.mutate(claims)
		}
		signKey := op.key
		if op.signer != nil {
			signKey = op.signer
		}
		op.mu.Unlock()
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: signKey}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
		if err != nil {
			t.Error(err)
			return
		}
		payload, _ := json.Marshal(claims)
		jws, err := sig.Sign(payload)
		if err != nil {
			t.Error(err)
			return
		}
		idToken, _ := jws.CompactSerialize()
		op.mu.Lock()
		op.issued = append(op.issued, access, idToken)
		op.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		op.mu.Lock()
		known := tok != "" && slices.Contains(op.issued, tok)
		sub := cmp.Or(op.userinfoSub, "sub-alice")
		op.mu.Unlock()
		if !known {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": sub, "name": "Alice Liddell", "picture": "https://example.com/a.png"})
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		op.mu.Lock()
		known := false
		for _, s := range op.issued {
			known = known || (s == tok && tok != "")
		}
		op.mu.Unlock()
		if !known {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"id":4242,"login":"alice"}`)
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func randomToken(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (op *fakeOP) set(f func(op *fakeOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

func (op *fakeOP) secrets() []string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return append([]string{op.secret}, op.issued...)
}

// oidcEnv is env with an OIDC strategy against op, logging into logs.
type oidcEnv struct {
	*env
	op   *fakeOP
	oidc *auth.OIDC[User]
	logs *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newOIDCEnv(t *testing.T, configure ...func(*auth.OIDC[User])) *oidcEnv {
	op := newFakeOP(t)
	logs := &syncBuffer{}
	e := newEnv(t)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.m.Logger, e.a.Logger = logger, logger
	o := &auth.OIDC[User]{
		Issuer: op.srv.URL, ClientID: op.client, ClientSecret: op.secret,
		RedirectURL: e.srv.URL + "/auth/oidc/callback",
		HTTPClient:  &http.Client{Timeout: 2 * time.Second},
		MapUser: func(_ context.Context, id auth.Identity) (User, error) {
			if id.Issuer == op.srv.URL && id.Subject == "sub-alice" {
				return User{ID: "1", Name: "alice"}, nil
			}
			return User{}, auth.ErrUserNotFound
		},
	}
	for _, f := range configure {
		f(o)
	}
	h := e.a.Authenticate(auth.Options[User]{
		SuccessRedirect: "/home", SuccessReturnTo: true,
		FailureRedirect: "/login", FailureFlash: true,
	}, o)
	e.mux.Handle("GET /auth/oidc", h)
	e.mux.Handle("GET /auth/oidc/callback", h)
	e.mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fl, _ := auth.Flashes(sessionFrom(r))
		for _, f := range fl {
			fmt.Fprintln(w, f.Kind+": "+f.Message)
		}
	})
	return &oidcEnv{env: e, op: op, oidc: o, logs: logs}
}

// start begins a login and returns the provider's redirect back to the
// app (its callback URL), having checked the authorization request.
func (e *oidcEnv) start(c *client, path string) string {
	e.t.Helper()
	r := c.do("GET", path, nil)
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, e.op.srv.URL+"/authorize?") {
		e.t.Fatalf("GET %s = %d to %q, want 303 to the provider", path, r.code, r.location)
	}
	resp, err := c.hc.Get(r.location) // the provider's own cookies do not matter here
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.srv.URL+"/auth/oidc/callback?") {
		e.t.Fatalf("provider answered %d to %q", resp.StatusCode, loc)
	}
	return strings.TrimPrefix(loc, e.srv.URL)
}

// noLeaks checks that no code, token, state, nonce or the client secret
// reached the logs or what the clients saw.
func (e *oidcEnv) noLeaks(seen ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range e.op.secrets() {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			e.t.Errorf("a secret of the flow (%.12s…) is in the logs:\n%s", s, logs)
		}
		for _, v := range seen {
			if strings.Contains(v, s) {
				e.t.Errorf("a secret of the flow (%.12s…) was shown to the client: %s", s, v)
			}
		}
	}
}

func TestOIDCLogin(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.client()
	cb := e.start(c, "/auth/oidc?return_to="+url.QueryEscape("/private/report"))
	ask := e.op.authAsk
	if ask.Get("scope") != "openid profile email" || ask.Get("nonce") == "" || ask.Get("max_age") != "" ||
		ask.Get("redirect_uri") != e.srv.URL+"/auth/oidc/callback" {
		t.Errorf("authorization request: %v", ask)
	}
	before := c.cookie().Value
	r := c.do("GET", cb, nil)
	if r.code != http.StatusSeeOther || r.location != "/private/report" {
		t.Fatalf("callback = %d to %q, want 303 to /private/report (the return-to)", r.code, r.location)
	}
	if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("callback headers: %v", r.header)
	}
	if c.cookie().Value == before {
		t.Error("the login did not regenerate the session ID")
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("after the callback the user is %q", got)
	}
	// The state was used: replaying the callback fails and does not
	// change who is logged in.
	r = c.do("GET", cb, nil)
	if r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("replayed callback = %d to %q, want 303 to /login", r.code, r.location)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgLoginExpired {
		t.Errorf("replay flash = %q", got)
	}
	e.noLeaks(r.body, r.location, c.cookie().Value)
}

func TestOIDCBadAnswers(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name  string
		bend  func(op *fakeOP)
		flash string
	}{
		{"bad signature", func(op *fakeOP) { op.signer = other }, auth.MsgNotVerified},
		{"wrong audience", func(op *fakeOP) { op.mutate = func(c map[string]any) { c["aud"] = "another-client" } }, auth.MsgNotVerified},
		{"wrong issuer", func(op *fakeOP) {
			op.mutate = func(c map[string]any) { c["iss"] = "https://evil.example" }
		}, auth.MsgNotVerified},
		{"expired", func(op *fakeOP) {
			op.mutate = func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }
		}, auth.MsgNotVerified},
		{"nonce mismatch", func(op *fakeOP) { op.mutate = func(c map[string]any) { c["nonce"] = "not-the-nonce" } }, auth.MsgNotVerified},
		{"no nonce", func(op *fakeOP) { op.mutate = func(c map[string]any) { delete(c, "nonce") } }, auth.MsgNotVerified},
		{"several audiences without azp", func(op *fakeOP) {
			op.mutate = func(c map[string]any) { c["aud"] = []string{"app", "other"} }
		}, auth.MsgNotVerified},
		{"unknown subject", func(op *fakeOP) { op.mutate = func(c map[string]any) { c["sub"] = "sub-mallory" } }, auth.MsgNoAccount},
		{"access denied", func(op *fakeOP) { op.authErr = "access_denied" }, auth.MsgLoginCancelled},
		{"other provider error", func(op *fakeOP) { op.authErr = "invalid_scope" }, auth.MsgProviderFailed},
		{"token endpoint refuses", func(op *fakeOP) { op.status = http.StatusBadRequest }, auth.MsgNotVerified},
		{"at_hash of another access token", func(op *fakeOP) {
			op.mutate = func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }
		}, auth.MsgNotVerified},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newOIDCEnv(t)
			e.op.set(tc.bend)
			c := e.client()
			cb := e.start(c, "/auth/oidc")
			r := c.do("GET", cb, nil)
			if r.code != http.StatusSeeOther || r.location != "/login" {
				t.Fatalf("callback = %d to %q, want 303 to /login", r.code, r.location)
			}
			if got := c.whoami(); got != "anonymous" {
				t.Fatalf("a bad answer logged in %q", got)
			}
			if got := c.do("GET", "/flashes", nil).body; got != "error: "+tc.flash {
				t.Errorf("flash = %q, want %q", got, tc.flash)
			}
			e.noLeaks(r.body, r.location, c.cookie().Value)
		})
	}
}

func TestOIDCStateFaults(t *testing.T) {
	e := newOIDCEnv(t)
	c, mallory := e.client(), e.client()
	cb := e.start(c, "/auth/oidc")
	u, _ := url.Parse(cb)
	q := u.Query()
	// Missing, mismatched, and another session's state (login CSRF:
	// mallory's callback URL opened in c's browser).
	mcb := e.start(mallory, "/auth/oidc")
	for _, path := range []string{
		"/auth/oidc/callback?code=" + q.Get("code"),
		"/auth/oidc/callback?code=" + q.Get("code") + "&state=" + q.Get("state") + "x",
		"/auth/oidc/callback?code=" + q.Get("code") + "&state=",
		mcb,
	} {
		r := c.do("GET", path, nil)
		if r.code != http.StatusSeeOther || r.location != "/login" {
			t.Errorf("callback %s = %d to %q, want 303 to /login", path, r.code, r.location)
		}
		if got := c.whoami(); got != "anonymous" {
			t.Fatalf("callback %s logged in %q", path, got)
		}
	}
	// The real one still works after the bad attempts: they did not use
	// up its state.
	if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/home" {
		t.Fatalf("callback = %d to %q", r.code, r.location)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("user %q", got)
	}
	// Without a session at all (cookies blocked): a failure, not a loop.
	fresh := e.client()
	if r := fresh.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("callback without a session = %d to %q", r.code, r.location)
	}
	e.noLeaks()
}

// A session keeps at most three logins in progress (tabs): a fourth start
// forgets the oldest, whose callback then fails as expired, while the
// others still complete.
func TestOIDCLoginsInProgress(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.client()
	var cbs []string
	for range 4 {
		cbs = append(cbs, e.start(c, "/auth/oidc"))
	}
	if r := c.do("GET", cbs[0], nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("oldest of four callbacks = %d to %q, want 303 to /login", r.code, r.location)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgLoginExpired {
		t.Errorf("flash = %q", got)
	}
	for _, cb := range cbs[1:] {
		if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/home" {
			t.Errorf("callback %s = %d to %q, want 303 to /home", cb, r.code, r.location)
		}
	}
	if got := c.whoami(); got != "alice" {
		t.Errorf("user %q", got)
	}
}

func TestOIDCLoginExpires(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newOIDCEnv(t, func(o *auth.OIDC[User]) { o.Now = clock })
	c := e.client()
	cb := e.start(c, "/auth/oidc")
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	e.op.set(func(op *fakeOP) { op.authTime = now }) // the ID token itself is fresh
	if r := c.do("GET", cb, nil); r.location != "/login" {
		t.Fatalf("a callback after 11 minutes = %d to %q, want /login", r.code, r.location)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("user %q", got)
	}
}

func TestOIDCOpenRedirect(t *testing.T) {
	for _, rt := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example"} {
		e := newOIDCEnv(t)
		c := e.client()
		cb := e.start(c, "/auth/oidc?return_to="+url.QueryEscape(rt))
		r := c.do("GET", cb, nil)
		if r.code != http.StatusSeeOther || r.location != "/home" {
			t.Errorf("return_to %q: callback = %d to %q, want 303 to /home", rt, r.code, r.location)
		}
	}
}

func TestOIDCProviderDownOrSlow(t *testing.T) {
	t.Run("down at the start", func(t *testing.T) {
		e := newOIDCEnv(t)
		e.op.srv.Close()
		c := e.client()
		r := c.do("GET", "/auth/oidc", nil)
		if r.code != http.StatusServiceUnavailable || r.body != auth.MsgUnavailable {
			t.Fatalf("start with the provider down = %d %q, want 503", r.code, r.body)
		}
	})
	t.Run("slow token endpoint", func(t *testing.T) {
		e := newOIDCEnv(t, func(o *auth.OIDC[User]) { o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
		e.op.set(func(op *fakeOP) { op.delay = 1500 * time.Millisecond })
		c := e.client()
		cb := e.start(c, "/auth/oidc")
		start := time.Now()
		r := c.do("GET", cb, nil)
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("callback with a slow provider = %d to %q, want 503", r.code, r.location)
		}
		if d := time.Since(start); d > 1200*time.Millisecond {
			t.Errorf("the slow provider was waited for %v", d)
		}
		if got := c.whoami(); got != "anonymous" {
			t.Fatalf("user %q", got)
		}
		e.noLeaks(r.body)
	})
	t.Run("token endpoint 500", func(t *testing.T) {
		e := newOIDCEnv(t)
		e.op.set(func(op *fakeOP) { op.status = http.StatusInternalServerError })
		c := e.client()
		r := c.do("GET", e.start(c, "/auth/oidc"), nil)
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("callback = %d, want 503", r.code)
		}
		e.noLeaks(r.body) // the error body names the secret
	})
	t.Run("provider error temporarily_unavailable", func(t *testing.T) {
		e := newOIDCEnv(t)
		e.op.set(func(op *fakeOP) { op.authErr = "temporarily_unavailable" })
		c := e.client()
		if r := c.do("GET", e.start(c, "/auth/oidc"), nil); r.code != http.StatusServiceUnavailable {
			t.Fatalf("callback = %d, want 503", r.code)
		}
	})
}

// RequireRecent sends a user whose login is old through the provider with
// max_age, and refuses an answer whose auth_time is older.
func TestOIDCRecentAuthentication(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newOIDCEnv(t, func(o *auth.OIDC[User]) { o.Now = clock })
	e.m.Now = clock
	e.op.set(func(op *fakeOP) { op.clock = clock })
	e.a.ReauthPath = "/auth/oidc"
	e.mux.Handle("GET /settings", e.a.RequireRecent(5*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "settings")
	})))
	c := e.client()
	e.op.set(func(op *fakeOP) { op.authTime = now })
	if r := c.do("GET", e.start(c, "/auth/oidc"), nil); r.location != "/home" {
		t.Fatalf("login: %d %q", r.code, r.location)
	}
	if r := c.do("GET", "/settings", nil); r.body != "settings" {
		t.Fatalf("fresh login: settings = %d %q", r.code, r.body)
	}
	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	r := c.do("GET", "/settings", nil)
	want := "/auth/oidc?max_age=300&return_to=%2Fsettings"
	if r.code != http.StatusSeeOther || r.location != want {
		t.Fatalf("stale login: settings = %d to %q, want 303 to %q", r.code, r.location, want)
	}
	if r := c.do("GET", "/settings", nil, "Accept", "application/json"); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "reauthentication_required") {
		t.Errorf("stale login, API: %d %s", r.code, r.body)
	}
	// The provider answers with the old auth_time (it did not make the
	// user sign in again): refused.
	cb := e.start(c, r.location)
	if got := e.op.authAsk.Get("max_age"); got != "300" {
		t.Fatalf("max_age sent = %q, want 300", got)
	}
	if r := c.do("GET", cb, nil); r.location != "/login" {
		t.Fatalf("stale auth_time: callback = %d to %q, want /login", r.code, r.location)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgNotRecent {
		t.Errorf("flash %q", got)
	}
	// Missing auth_time with max_age: refused.
	e.op.set(func(op *fakeOP) { op.mutate = func(c map[string]any) { delete(c, "auth_time") } })
	if r := c.do("GET", e.start(c, "/auth/oidc?max_age=300&return_to=%2Fsettings"), nil); r.location != "/login" {
		t.Fatalf("no auth_time: callback = %d to %q, want /login", r.code, r.location)
	}
	if r := c.do("GET", "/settings", nil); r.code != http.StatusSeeOther {
		t.Fatalf("settings after refused re-authentications = %d", r.code)
	}
	// A real re-authentication passes and returns to the page.
	e.op.set(func(op *fakeOP) { op.mutate, op.authTime = nil, now })
	if r := c.do("GET", e.start(c, "/auth/oidc?max_age=300&return_to=%2Fsettings"), nil); r.location != "/settings" {
		t.Fatalf("re-authentication: callback = %d to %q, want /settings", r.code, r.location)
	}
	if r := c.do("GET", "/settings", nil); r.body != "settings" {
		t.Fatalf("after re-authentication: settings = %d %q", r.code, r.body)
	}
	e.noLeaks()
}

// Without auth_time, a login is never recent.
func TestOIDCUnknownAuthTimeIsNotRecent(t *testing.T) {
	e := newOIDCEnv(t)
	e.op.set(func(op *fakeOP) { op.mutate = func(c map[string]any) { delete(c, "auth_time") } })
	e.mux.Handle("GET /settings", e.a.RequireRecent(time.Hour, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "settings")
	})))
	c := e.client()
	if r := c.do("GET", e.start(c, "/auth/oidc"), nil); r.location != "/home" {
		t.Fatalf("login: %d %q", r.code, r.location)
	}
	if r := c.do("GET", "/settings", nil); r.code != http.StatusSeeOther {
		t.Fatalf("settings with an unknown auth_time = %d %q, want a redirect", r.code, r.body)
	}
}

func sessionFrom(r *http.Request) *sessionkit.Session { return sessionkit.From(r.Context()) }

// Each login in progress has its own PKCE verifier: a code issued for one
// (another tab's, or one an attacker lifted) redeemed with another login's
// state is refused by the provider, and nobody is logged in.
func TestOIDCCodeBoundToItsLogin(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.client()
	first, _ := url.Parse(e.start(c, "/auth/oidc"))
	second, _ := url.Parse(e.start(c, "/auth/oidc"))
	q := second.Query()
	q.Set("code", first.Query().Get("code"))
	second.RawQuery = q.Encode()
	if r := c.do("GET", second.RequestURI(), nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("callback with another login's code = %d to %q, want 303 to /login", r.code, r.location)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("logged in %q", got)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgNotVerified {
		t.Errorf("flash = %q", got)
	}
	e.noLeaks()
}

// The redirect URI comes from configuration: a request with a forged Host
// header starts a login whose redirect_uri is still RedirectURL.
func TestOIDCRedirectURIIgnoresHost(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.client()
	req, err := http.NewRequest("GET", e.srv.URL+"/auth/oidc", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ask, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := ask.Query().Get("redirect_uri"); got != e.oidc.RedirectURL {
		t.Errorf("redirect_uri = %q, want %q", got, e.oidc.RedirectURL)
	}
}

// The token endpoint's client authentication follows discovery
// (client_secret_basic when listed or when the list is absent, else
// client_secret_post) or AuthStyle, and a discovery that failed is tried
// again at the next login.
func TestOIDCClientAuthFromDiscovery(t *testing.T) {
	cases := []struct {
		name    string
		methods []string
		style   oauth2.AuthStyle
		want    string
	}{
		{"basic listed", []string{"client_secret_post", "client_secret_basic"}, 0, "client_secret_basic"},
		{"only post", []string{"client_secret_post"}, 0, "client_secret_post"},
		{"AuthStyle overrides", []string{"client_secret_basic", "client_secret_post"}, oauth2.AuthStyleInParams, "client_secret_post"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newOIDCEnv(t, func(o *auth.OIDC[User]) { o.AuthStyle = tc.style })
			e.op.set(func(op *fakeOP) { op.methods, op.discoveryDown = tc.methods, true })
			c := e.client()
			if r := c.do("GET", "/auth/oidc", nil); r.code != http.StatusServiceUnavailable {
				t.Fatalf("start with discovery down = %d to %q, want 503", r.code, r.location)
			}
			e.op.set(func(op *fakeOP) { op.discoveryDown = false })
			if r := c.do("GET", e.start(c, "/auth/oidc"), nil); r.code != http.StatusSeeOther || r.location != "/home" {
				t.Fatalf("callback = %d to %q, want 303 to /home", r.code, r.location)
			}
			e.op.set(func(op *fakeOP) {
				if op.authUsed != tc.want {
					t.Errorf("client authentication %q, want %q", op.authUsed, tc.want)
				}
			})
		})
	}
}

// With UserInfo the UserInfo endpoint's claims are merged into the
// identity (the ID token's win), and an answer about another subject is
// refused: its subject must match the ID token's.
func TestOIDCUserInfo(t *testing.T) {
	var ids []auth.Identity
	e := newOIDCEnv(t, func(o *auth.OIDC[User]) {
		o.UserInfo = true
		mapUser := o.MapUser
		o.MapUser = func(ctx context.Context, id auth.Identity) (User, error) {
			ids = append(ids, id)
			return mapUser(ctx, id)
		}
	})
	c := e.client()
	if r := c.do("GET", e.start(c, "/auth/oidc"), nil); r.code != http.StatusSeeOther || r.location != "/home" {
		t.Fatalf("callback = %d to %q, want 303 to /home", r.code, r.location)
	}
	var claims map[string]any
	if len(ids) != 1 || json.Unmarshal(ids[0].Claims, &claims) != nil {
		t.Fatalf("identities %+v", ids)
	}
	if ids[0].Name != "Alice Liddell" || claims["picture"] != "https://example.com/a.png" || claims["sub"] != "sub-alice" || ids[0].Username != "alice" {
		t.Errorf("merged identity %+v, claims %v", ids[0], claims)
	}
	e.op.set(func(op *fakeOP) { op.userinfoSub = "sub-mallory" })
	c2 := e.client()
	if r := c2.do("GET", e.start(c2, "/auth/oidc"), nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("callback with another subject's UserInfo = %d to %q, want 303 to /login", r.code, r.location)
	}
	if got := c2.whoami(); got != "anonymous" {
		t.Errorf("logged in %q", got)
	}
	if got := c2.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgNotVerified {
		t.Errorf("flash = %q", got)
	}
	e.noLeaks()
}

// A provider login started without a return-to parameter keeps the page a
// Node app sharing the session put under ReturnToKey (connect-ensure-login
// before sending the user to sign in), as Passport does, and returns there
// after the callback; a parameter replaces it.
func TestOIDCKeepsSessionReturnTo(t *testing.T) {
	e := newOIDCEnv(t)
	for _, tc := range []struct{ start, want string }{
		{"/auth/oidc", "/orders/7"},
		{"/auth/oidc?return_to=%2Fcart", "/cart"},
	} {
		c := e.client()
		c.do("POST", "/set?k="+auth.ReturnToKey+"&v="+url.QueryEscape("/orders/7"), nil)
		if r := c.do("GET", e.start(c, tc.start), nil); r.code != http.StatusSeeOther || r.location != tc.want {
			t.Errorf("start %s: callback = %d to %q, want 303 to %q", tc.start, r.code, r.location, tc.want)
		}
		if got := c.do("GET", "/get?k="+auth.ReturnToKey, nil).body; got != "" {
			t.Errorf("start %s: ReturnToKey %q left after the login", tc.start, got)
		}
	}
}
