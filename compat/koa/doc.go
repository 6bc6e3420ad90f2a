// Package koa lets a Go service share sessions with a Koa app, so that
// endpoints can move from Node to Go one at a time behind one domain: a
// user signed in on either side is signed in on both, and neither side
// corrupts what the other wrote. It speaks three of Koa's session
// formats, each proven against the real npm packages in this package's
// tests:
//
//   - koa-session in cookie mode, its default (NewCookieMode): the whole
//     session is base64 JSON in the "koa.sess" cookie, signed in
//     "koa.sess.sig" with the app's keys (Keygrip, compat/keygrip).
//   - koa-session with an external store (ConfigureStore): the cookie
//     holds an external key (a UUID, after koa-session's prefix option),
//     the store the session JSON; for koa-redis, redisstore's
//     LayoutConnectRedis with Options.NoPrefix, wrapped by
//     NewExternalStore so that renewals move the JSON's "_expire".
//   - koa-generic-session (ConfigureGeneric): the "koa.sid" cookie holds
//     the session ID, the store the session JSON with its "cookie"
//     object under "koa:sess:" + ID; for koa-redis, redisstore's
//     LayoutConnectRedis with Prefix "koa:sess:" (Sentinel and Cluster
//     included, as koa-redis offers them).
//
// koa-passport keeps Passport's passport.user in the session, which the
// auth package reads and writes through express.PassportField
// (UsePassport). The values codecs keep the keys the Go side does not
// touch byte for byte and print new values as JSON.stringify does.
//
// # Cookie mode: signed, not encrypted
//
// A koa-session cookie is signed, not encrypted: anyone holding it can
// base64-decode it and read every value in it, and a session in a cookie
// cannot be revoked — a copied cookie works, on the Node side and the Go
// side alike, until its "_expire" (forever for maxAge 'session', while
// its key is in app.keys). The way forward is CookieImporter: a Go
// Manager on store/cookiestore (sealed and encrypted) or on a
// server-side store takes over each koa-session cookie on the user's
// next request, under a new session of its own, without signing anyone
// out.
//
// # Example
//
//	// app.keys = [process.env.KEY, process.env.OLD_KEY];
//	// app.use(session({ maxAge: 7 * 86400000 }, app));
//	m, err := koa.NewCookieMode(koa.Options{
//		Keys:   []string{os.Getenv("KEY"), os.Getenv("OLD_KEY")},
//		MaxAge: 7 * 24 * time.Hour,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := auth.New(m, func(u *User) string { return strconv.Itoa(u.ID) }, lookupUser)
//	koa.UsePassport(users) // passport.serializeUser((user, done) => done(null, user.id))
//	http.ListenAndServe(":8080", users.CrossOrigin.Handler(users.Handler(mux)))
//
// See docs/migrating-from-koa.md for every mode side by side, with its
// limits.
package koa
