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
//	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
//		if err := users.Logout(w, r); err != nil {
//			http.Error(w, "try again", http.StatusServiceUnavailable)
//			return
//		}
//		http.Redirect(w, r, "/", http.StatusSeeOther)
//	})
//	mux.Handle("/account/", users.Require(accountPages))
//	http.ListenAndServe(":8080", users.Handler(mux)) // includes sessions.Handler
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
// A custom login (OAuth callback, API token exchange) calls Login itself,
// before writing the response:
//
//	if err := users.Login(w, r, u); err != nil { ... }
//	http.Redirect(w, r, cmp.Or(users.ReturnTo(r), "/"), http.StatusSeeOther)
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
// with sessionkit.UserIndex (memstore, boltstore, redisstore, pgstore,
// mysqlstore, mongostore); others report an error wrapping
// ErrNotSupported. Client-side sessions (cookiestore) cannot be revoked at
// all: a copied cookie stays valid until it expires.
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
// that timing does not tell them apart either. FormLogin refuses
// cross-origin POSTs (login CSRF); it does not rate-limit, which belongs
// in front of it.
//
// Stores can check that login flows work on them with package
// auth/authtest.
package auth
