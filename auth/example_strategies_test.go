package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/auth/password"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// newUsers is the small app the examples share: accounts by ID and an Auth
// over memstore.
func newUsers() (*auth.Auth[*Account], map[string]*Account) {
	hash, _ := password.Params{Memory: 64, Time: 1, Threads: 1}.Hash("s3cret")
	accounts := map[string]*Account{"7": {ID: "7", Name: "ada", Hash: hash}}
	users := auth.New(sessionkit.New(memstore.New(memstore.Options{})),
		func(a *Account) string { return a.ID },
		func(_ context.Context, id string) (*Account, error) {
			if a, ok := accounts[id]; ok {
				return a, nil
			}
			return nil, auth.ErrUserNotFound
		})
	return users, accounts
}

func byName(accounts map[string]*Account) func(context.Context, string) (*Account, string, error) {
	return func(_ context.Context, name string) (*Account, string, error) {
		for _, a := range accounts {
			if a.Name == name {
				return a, a.Hash, nil
			}
		}
		return nil, "", auth.ErrUserNotFound
	}
}

func show(resp *http.Response, err error) {
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"), strings.TrimSpace(string(b)))
}

var noRedirects = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Passport's
//
//	passport.use(new LocalStrategy(verify))
//	app.post('/login', passport.authenticate('local', {
//	  successReturnToOrRedirect: '/', failureRedirect: '/login', failureFlash: true }))
//
// is the Local strategy behind Authenticate. The login page shows the
// flash with Flashes.
func ExampleAuth_Authenticate() {
	users, accounts := newUsers()
	local := &auth.Local[*Account]{
		Verify: auth.PasswordVerifier(password.Params{Memory: 64, Time: 1, Threads: 1}, byName(accounts), nil),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /login", users.Authenticate(auth.Options[*Account]{
		SuccessRedirect: "/", SuccessReturnTo: true,
		FailureRedirect: "/login", FailureFlash: true,
	}, local))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		flashes, _ := auth.Flashes(sessionkit.From(r.Context()))
		for _, f := range flashes {
			fmt.Fprintf(w, "%s: %s\n", f.Kind, f.Message)
		}
	})
	srv := httptest.NewServer(users.Handler(mux))
	defer srv.Close()

	browser := newBrowser()
	browser.CheckRedirect = nil
	show(browser.PostForm(srv.URL+"/login", url.Values{"username": {"ada"}, "password": {"wrong"}}))
	browser.CheckRedirect = noRedirects
	show(browser.PostForm(srv.URL+"/login", url.Values{"username": {"ada"}, "password": {"s3cret"}, "return_to": {"/account"}}))
	// Output:
	// 200  error: Invalid username or password.
	// 303 /account
}

// Bearer tokens for an API (passport-http-bearer with session: false):
// the user is set for the request only, no session or cookie is made.
func ExampleBearer() {
	users, accounts := newUsers()
	bearer := &auth.Bearer[*Account]{
		// Tokens the app issued; a database lookup works the same way.
		Verify: auth.StaticTokens(map[string]*Account{"tok_4f9a1c2e8b7d": accounts["7"]}),
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := users.User(r)
		fmt.Fprintf(w, "hello %s", u.Name)
	})
	srv := httptest.NewServer(users.Authenticate(auth.Options[*Account]{}, bearer).Then(api))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer tok_4f9a1c2e8b7d")
	resp, _ := http.DefaultClient.Do(req)
	fmt.Println(len(resp.Cookies()), "cookies")
	show(resp, nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, _ = http.DefaultClient.Do(req)
	fmt.Println(resp.Header.Get("WWW-Authenticate"))
	show(resp, nil)
	// Output:
	// 0 cookies
	// 200  hello ada
	// Bearer realm="api", error="invalid_token"
	// 401  {"error":"unauthorized","message":"The access token is invalid."}
}

// API keys in a header, checked by the application; stateless.
func ExampleAPIKey() {
	users, accounts := newUsers()
	keys := &auth.APIKey[*Account]{
		Header: "X-API-Key",
		Verify: func(ctx context.Context, key string) (*Account, error) {
			if key == "key_ada_0001" { // look the key up in your database instead
				return accounts["7"], nil
			}
			return nil, auth.ErrInvalidToken
		},
	}
	srv := httptest.NewServer(users.Authenticate(auth.Options[*Account]{}, keys).Then(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			u, _ := users.User(r)
			fmt.Fprint(w, u.Name)
		})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-API-Key", "key_ada_0001")
	show(http.DefaultClient.Do(req))
	// Output:
	// 200  ada
}

// HTTP Basic authentication (passport-http) with the argon2id hashes of
// the password form; stateless.
func ExampleBasic() {
	users, accounts := newUsers()
	basic := &auth.Basic[*Account]{
		Realm:  "admin",
		Verify: auth.PasswordVerifier(password.Params{Memory: 64, Time: 1, Threads: 1}, byName(accounts), nil),
	}
	srv := httptest.NewServer(users.Authenticate(auth.Options[*Account]{}, basic).Then(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			u, _ := users.User(r)
			fmt.Fprint(w, "admin ", u.Name)
		})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, _ := http.DefaultClient.Do(req)
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	req.SetBasicAuth("ada", "s3cret")
	show(http.DefaultClient.Do(req))
	// Output:
	// 401 Basic realm="admin", charset="UTF-8"
	// 200  admin ada
}

// The password form as a strategy: Local reads the posted fields.
// FormLogin is Local with a login page.
func ExampleLocal() {
	users, accounts := newUsers()
	local := &auth.Local[*Account]{
		Verify:        auth.PasswordVerifier(password.DefaultParams(), byName(accounts), nil),
		RememberField: "remember",
	}
	http.Handle("POST /login", users.Authenticate(auth.Options[*Account]{SuccessRedirect: "/"}, local))
}

// "Sign in with …" over OpenID Connect (passport-openidconnect). One
// Authenticator serves both the start route and the callback. MapUser
// keys accounts by issuer and subject, and may create one.
func ExampleOIDC() {
	users, _ := newUsers()
	google := &auth.OIDC[*Account]{
		Name:         "google",
		Issuer:       "https://accounts.google.com",
		ClientID:     os.Getenv("GOOGLE_CLIENT_ID"),
		ClientSecret: os.Getenv("GOOGLE_CLIENT_SECRET"),
		RedirectURL:  "https://app.example/auth/google/callback", // from configuration, never the Host header
		MapUser: func(ctx context.Context, id auth.Identity) (*Account, error) {
			// Find the account linked to (id.Issuer, id.Subject), or
			// create one; never match on id.Email alone.
			return &Account{ID: id.Issuer + "|" + id.Subject, Name: id.Name}, nil
		},
	}
	signIn := users.Authenticate(auth.Options[*Account]{
		SuccessRedirect: "/", SuccessReturnTo: true,
		FailureRedirect: "/login", FailureFlash: true,
	}, google)
	mux := http.NewServeMux()
	mux.Handle("GET /auth/google", signIn)          // <a href="/auth/google?return_to=/account">
	mux.Handle("GET /auth/google/callback", signIn) // the provider sends the user back here
	_ = http.ListenAndServe(":8080", users.CrossOrigin.Handler(users.Handler(mux)))
}

// A plain OAuth 2.0 provider without OpenID Connect: GitHub. Profile asks
// the provider's API who signed in.
func ExampleOAuth2() {
	users, _ := newUsers()
	github := &auth.OAuth2[*Account]{
		Name:   "github",
		Issuer: "https://github.com",
		Config: &oauth2.Config{
			ClientID:     os.Getenv("GITHUB_CLIENT_ID"),
			ClientSecret: os.Getenv("GITHUB_CLIENT_SECRET"),
			Endpoint: oauth2.Endpoint{
				AuthURL:   "https://github.com/login/oauth/authorize",
				TokenURL:  "https://github.com/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
			RedirectURL: "https://app.example/auth/github/callback",
			Scopes:      []string{"read:user"},
		},
		Profile: func(ctx context.Context, client *http.Client, _ *oauth2.Token) (auth.Identity, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.github.com/user", nil)
			resp, err := client.Do(req)
			if err != nil {
				return auth.Identity{}, err
			}
			defer resp.Body.Close()
			var u struct {
				ID    int64  `json:"id"`
				Login string `json:"login"`
				Name  string `json:"name"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
				return auth.Identity{}, err
			}
			return auth.Identity{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login, Name: u.Name}, nil
		},
		MapUser: func(ctx context.Context, id auth.Identity) (*Account, error) {
			return &Account{ID: "github|" + id.Subject, Name: id.Username}, nil
		},
	}
	h := users.Authenticate(auth.Options[*Account]{SuccessRedirect: "/", FailureRedirect: "/login", FailureFlash: true}, github)
	http.Handle("GET /auth/github", h)
	http.Handle("GET /auth/github/callback", h)
}

// Flash messages: connect-flash's req.flash(kind, message) and
// req.flash(kind).
func ExampleAddFlash() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		_ = auth.AddFlash(sessionkit.From(r.Context()), auth.FlashSuccess, "Saved.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		flashes, _ := auth.Flashes(sessionkit.From(r.Context()), auth.FlashSuccess)
		fmt.Fprint(w, flashes)
	})
	srv := httptest.NewServer(sessionkit.New(memstore.New(memstore.Options{})).Handler(mux))
	defer srv.Close()
	browser := newBrowser()
	browser.CheckRedirect = nil
	show(browser.Post(srv.URL+"/save", "", nil))
	show(browser.Get(srv.URL + "/"))
	// Output:
	// 200  [{success Saved.}]
	// 200  []
}

// Sensitive actions need a recent login (ASVS v5 7.5.1): older logins are
// sent to sign in again and come back.
func ExampleAuth_RequireRecent() {
	users, _ := newUsers()
	changeEmail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { /* … */ })
	http.Handle("/account/email", users.RequireRecent(15*time.Minute, changeEmail))
	fmt.Println(users.ReauthURL("/account/email", 15*time.Minute))
	// Output:
	// /login?max_age=900&return_to=%2Faccount%2Femail
}

// The shipped logout and "your sessions" handlers refuse cross-site
// POSTs; the app protects its own unsafe routes by wrapping the mux in
// the same CrossOriginProtection.
func ExampleLogoutHandler() {
	users, _ := newUsers()
	mux := http.NewServeMux()
	mux.Handle("POST /logout", &auth.LogoutHandler[*Account]{Auth: users, Redirect: "/", Flash: "You are signed out."})
	mux.Handle("POST /sessions/revoke", &auth.RevokeHandler[*Account]{Auth: users, Scope: auth.RevokeOne, Redirect: "/sessions"})
	mux.Handle("POST /sessions/revoke-others", &auth.RevokeHandler[*Account]{Auth: users, Scope: auth.RevokeOthers, Redirect: "/sessions"})
	srv := httptest.NewServer(users.CrossOrigin.Handler(users.Handler(mux)))
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/logout", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, _ := newBrowser().Do(req)
	fmt.Println(resp.StatusCode)
	// Output:
	// 403
}

func newBrowser() *http.Client {
	jar, _ := cookiejarNew()
	return &http.Client{Jar: jar, CheckRedirect: noRedirects}
}

func cookiejarNew() (http.CookieJar, error) { return cookiejar.New(nil) }
