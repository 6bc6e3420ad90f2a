// Package auth adds login sessions to sessionkit: what Passport's session
// support gives Express apps, for net/http and any user type.
//
// The application says how to turn a user into a small, stable key kept in
// the session (Serialize) and back (Deserialize). Login gives the session a
// new ID (so a session ID planted before login is worthless), records the
// key and some login metadata, and indexes the session under its user;
// Logout ends it; User returns the logged-in user, deserialized lazily and
// at most once per request. A user that no longer exists
// (Deserialize returns ErrUserNotFound) makes the request anonymous and
// removes the stale key — never a 500.
//
// # Setup
//
//	type User struct {
//		ID   string
//		Name string
//	}
//
//	sessions := sessionkit.New(store) // any store; see below for the per-user index
//	users := auth.New(sessions,
//		func(u *User) string { return u.ID },
//		func(ctx context.Context, id string) (*User, error) {
//			u, err := db.UserByID(ctx, id)
//			if errors.Is(err, sql.ErrNoRows) {
//				return nil, auth.ErrUserNotFound // logged out, quietly
//			}
//			return u, err // other errors: 503, not a logout
//		})
//
//	mux := http.NewServeMux()
//	mux.Handle("/login", &auth.FormLogin[*User]{
//		Auth: users,
//		Verify: auth.PasswordVerifier(password.DefaultParams(),
//			func(ctx context.Context, name string) (*User, string, error) {
//				u, err := db.UserByName(ctx, name)
//				if errors.Is(err, sql.ErrNoRows) {
//					return nil, "", auth.ErrUserNotFound
//				}
//				if err != nil {
//					return nil, "", err
//				}
//				return u, u.PasswordHash, nil
//			},
//			func(ctx context.Context, u *User, newHash string) { db.SetPasswordHash(ctx, u.ID, newHash) }),
//	})
//	mux.Handle("POST /logout", &auth.LogoutHandler[*User]{Auth: users, Redirect: "/"})
//	mux.Handle("/account/", users.Require(accountPages))
//	mux.Handle("POST /account/delete", users.RequireRecent(10*time.Minute, deleteAccount))
//	// users.Handler includes sessions.Handler; CrossOrigin.Handler refuses
//	// cross-site POSTs to the app's own unsafe routes (deleteAccount) too.
//	http.ListenAndServe(":8080", users.CrossOrigin.Handler(users.Handler(mux)))
//
// In a handler:
//
//	u, err := users.User(r)
//	switch {
//	case errors.Is(err, auth.ErrNotAuthenticated): // anonymous
//	case err != nil: // the store or the user database failed
//	default: // u is logged in
//	}
//
// A custom login calls Login itself, before writing the response:
//
//	if err := users.Login(w, r, u); err != nil { ... }
//	http.Redirect(w, r, cmp.Or(users.ReturnTo(r), "/"), http.StatusSeeOther)
//
// # Strategies and the authenticate handler
//
// As in Passport, logins come from strategies (the Strategy interface),
// and one handler runs them: Auth.Authenticate, passport.authenticate. A
// strategy looks at the request and answers with a Result: Success (a
// user, and optional Info), Failure (a message and a status), Redirect (to
// a provider), Pass, or Error. Built in:
//
//	Local    the username and password form (passport-local); FormLogin is Local with a page
//	OIDC     OpenID Connect, "Sign in with Google" (passport-openidconnect)
//	OAuth2   OAuth 2.0 without OpenID Connect, with the app's profile fetch (passport-github2)
//	Bearer   Authorization: Bearer tokens (passport-http-bearer), stateless
//	APIKey   an API key header, stateless
//	Basic    HTTP Basic (passport-http), stateless
//
// Options are Passport's: SuccessRedirect, SuccessReturnTo
// (successReturnToOrRedirect), FailureRedirect, SuccessFlash and
// FailureFlash (with SuccessMessage and FailureMessage), Stateless
// (session: false) and a custom Callback. API requests and stateless
// strategies get the failure's status, WWW-Authenticate challenges and a
// JSON body instead of a redirect. Then puts the handler in front of a
// route, as route middleware:
//
//	mux.Handle("POST /login", users.Authenticate(auth.Options[*User]{
//		SuccessRedirect: "/", SuccessReturnTo: true,
//		FailureRedirect: "/login", FailureFlash: true,
//	}, &auth.Local[*User]{Verify: verify}))
//	mux.Handle("/api/", users.Authenticate(auth.Options[*User]{},
//		&auth.Bearer[*User]{Verify: tokens}).Then(api))
//
// A stateless success sets the user for the request (User returns it)
// without creating a session or sending a cookie.
//
// OIDC and OAuth2 run the authorization code flow with PKCE (S256). The
// state (and nonce) are kept in the session, single-use, for at most 10
// minutes, and for at most three logins in progress per strategy (tabs):
// a fourth start forgets the oldest, whose callback then fails as
// expired; the callback is a top-level GET, so the SameSite=Lax session
// cookie arrives with it; the return-to page is kept under ReturnToKey
// across the round trip and validated when used; the login regenerates
// the session ID. The design rules of a careful relying party hold: users
// are keyed by issuer and subject (Identity), never by e-mail alone; the
// redirect URI comes from configuration, never the request's Host; the
// token endpoint's client authentication is configured or taken from
// discovery, never guessed by retrying; with FailureRedirect a callback
// that fails ends with a redirect that drops code and state from the URL,
// and so does one that succeeds unless it goes on to a Next handler (no
// SuccessRedirect or return-to page): that one is answered at the
// callback's URL, with Referrer-Policy: no-referrer and its code and
// state used up; no token, code or state reaches a log, a message or a
// cookie. A provider that is down or slow is a 503 after the HTTP client's
// timeout, never a redirect loop; its URL still holds the code and state,
// worthless by then: the state is used up, and the code needs the PKCE
// verifier that left the session with it.
//
// # Flash messages
//
// AddFlash and Flashes keep one-time messages in the session, in
// connect-flash's layout (req.session.flash), so a Node app sharing the
// session sees them too. The authenticate handler's flash options use them.
//
// # Recent authentication
//
// RequireRecent guards sensitive actions (ASVS v5 7.5.1, 7.5.3): only a
// user who authenticated within a given time gets through; others are sent
// to ReauthPath with the return-to page and MaxAgeParam. A password login
// counts from when it happened; an OpenID Connect login counts from the
// provider's auth_time, and the OIDC strategy passes max_age to the
// provider and refuses an older auth_time. An OAuth 2.0 login counts from
// the Identity.AuthTime its Profile reports, or else from when it
// happened: plain OAuth 2.0 cannot ask the provider for a fresh sign-in,
// so a provider that lets a signed-in user straight through makes the
// login recent without a password being entered. Send ReauthPath to the
// password form or to OIDC for actions that need a real re-authentication.
//
// # Protecting routes
//
// Require lets only logged-in requests through. API requests (Accept asks
// for JSON, or Auth.IsAPI says so) get 401 with a JSON body; page requests
// are redirected to LoginPath with a return_to parameter. Return-to values
// are validated when used (SafeReturnTo): only paths on this site, never
// "//host", "/\host", absolute URLs or control characters, so the login
// page cannot be used as an open redirect.
//
// # Sessions per user
//
// Sessions lists the current user's sessions as SessionInfo values: a
// Handle (derived from the store key; never the session ID), when the
// session was created and last used, the user agent and address it logged
// in from, and which one is the current request's. Revoke ends one of them
// by handle (only among the user's own sessions), RevokeOthers ends all
// but the current one ("sign out everywhere else"), and RevokeAll ends all
// of a user's sessions (password change, account disabled; it also logs
// out the current request if it belongs to that user). These need a store
// with sessionkit.UserIndex (memstore, sqlitestore, boltstore, redisstore,
// pgstore, mysqlstore, mongostore); others report an error wrapping
// ErrNotSupported. LogoutHandler and RevokeHandler are the shipped
// handlers for these routes. A revoked session is signed out on its next
// request to any process sharing the store, except that a process whose
// redisstore keeps a near cache may serve it until the store's
// invalidation message arrives (milliseconds; see redisstore, "Near
// cache"). Client-side sessions (cookiestore) cannot be revoked at all: a
// copied cookie stays valid until it expires.
//
// Sessions, Revoke, RevokeOthers and RevokeHandler work from the request's
// login session: a request whose user a stateless strategy set (a bearer
// token, an API key) has none unless its session cookie is a login of that
// same user — another user's login does not count, for these or for
// RequireRecent — and is answered as anonymous. For such a user, call
// UserSessions and RevokeAll with the user's key (Serialize).
//
// # What the session holds
//
// The user key is kept where Auth.Field says: by default a JSON string
// under the reserved value "_user". The express compatibility layer
// substitutes Passport's passport.user (see UserKeyField, KeyFromJSON and
// KeyToJSON). Login metadata is kept under "_login" (see LoginInfo). The
// session's Record.UserKey, which stores index by, is kept in step by
// Login, Logout and User.
//
// # Passwords
//
// Package auth/password hashes with argon2id in the PHC string format.
// FormLogin shows the same message for an unknown user and a wrong
// password, and PasswordVerifier runs a dummy hash for unknown users so
// that timing does not tell them apart either. FormLogin does not
// rate-limit, which belongs in front of it.
//
// # Cross-site requests
//
// Every state-changing handler this package ships — FormLogin,
// Authenticator, LogoutHandler, RevokeHandler — refuses cross-origin
// unsafe requests (a form on another site posting to /logout or /login)
// with 403, through Auth.CrossOrigin, an http.CrossOriginProtection that
// New creates. Add trusted origins or bypass patterns to it, or a deny
// handler for a friendlier page. The application's own unsafe routes are
// not covered by that: wrap the mux in the same protection,
// users.CrossOrigin.Handler(users.Handler(mux)), or in
// http.NewCrossOriginProtection().Handler. The Logout and Revoke
// functions do no check of their own: a handler that calls them must be
// protected that way.
//
// Stores can check that login flows work on them with package
// auth/authtest.
package auth
