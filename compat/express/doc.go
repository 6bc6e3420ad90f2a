// Package express lets a Go service share sessions with an Express app
// that uses express-session and Passport, so that endpoints can move from
// Node to Go one at a time behind one domain: a user signed in on either
// side is signed in on both, and neither side corrupts what the other
// wrote.
//
// It provides the pieces of express-session's wire format, each usable on
// its own:
//
//   - Signer: cookie-signature's signed cookie, "s:<id>.<sig>" encoded as
//     encodeURIComponent encodes it, with several secrets (the first
//     signs, all verify).
//   - IDs: express-session's 32-character IDs (24 random bytes, base64url).
//   - Codec: express-session's stored JSON, the "cookie" object plus the
//     application's keys, written so that express-session reads it back
//     unchanged; keys the Go side does not touch keep their bytes and order.
//   - PassportField and UsePassport: the auth package's user key at
//     Passport's passport.user.
//   - Configure: all of the above on a sessionkit.Manager, with the
//     timing of an express cookie maxAge.
//   - Importer and Migrator: the way out. An Importer lets a native
//     Manager (hashed keys, per-user index, absolute lifetime) take over
//     express sessions on their next request, so that leaving
//     express-session signs nobody out; a Migrator (the sessionkit
//     command's migrate) copies them into the native store first, so the
//     express store can be retired before every user has come back.
//
// The store must use the layout of the Node store, with the session ID as
// the key (Configure sets Manager.RawKeys): redisstore's
// LayoutConnectRedis, pgstore's LayoutConnectPgSimple or mongostore's
// LayoutConnectMongo, each with UserKeyOf set to UserKey.
//
// # Example
//
//	store, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"), pgstore.Options{
//		Layout:    pgstore.LayoutConnectPgSimple, // table "session"
//		UserKeyOf: express.UserKey,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m := sessionkit.New(store)
//	err = express.Configure(m, express.Options{
//		Secrets: []string{os.Getenv("SESSION_SECRET"), os.Getenv("OLD_SESSION_SECRET")},
//		MaxAge:  30 * 24 * time.Hour, // cookie: {maxAge: 30 days}
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := auth.New(m, func(u *User) string { return strconv.Itoa(u.ID) }, lookupUser)
//	express.UsePassport(users) // serializeUser: (user, done) => done(null, user.id)
//	http.ListenAndServe(":8080", users.CrossOrigin.Handler(users.Handler(mux)))
//
// # What differs from a Go-only deployment
//
// The Node stores' layouts are weaker than the native ones, and the Go
// side cannot make the Node side safer:
//
//   - Session IDs are store keys as they are (not hashed): a copy of the
//     store holds live session tokens, as it does for the Node app.
//   - There is no per-user index: auth's session lists and "sign out
//     everywhere" report sessionkit.ErrNotSupported.
//   - Go writes are compare-and-swap on a hash of the stored JSON, so two
//     Go requests never lose each other's changes, and a Go write never
//     overwrites a change the Node app made after the Go request read
//     the session. Node writes are plain overwrites: a Node request that
//     saves after a concurrent Go write replaces it (as two Node requests
//     do to each other).
//   - express-session has no absolute session lifetime, only the rolling
//     maxAge; records carry no creation time, so the Go side enforces
//     only the idle expiry too.
//   - Login metadata that auth records (the "_login" value) is kept by
//     express-session like any other value; Passport ignores it.
//
// # Leaving express-session
//
// When Go serves everything, a native Manager with an Importer takes the
// sessions over one request at a time:
//
//	imp, err := express.NewImporter(express.ImportOptions{
//		Secrets:  secrets,
//		Express:  expressStore, // the store above
//		Migrated: nativeStore,  // where `sessionkit migrate` copies them
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m := sessionkit.New(nativeStore)
//	m.Import = imp
//
// The user keeps their values, their Passport user (now the native owner
// and auth's "_user" value) and their cookie's lifetime, gets a native
// cookie, and their express session and cookie are gone. Copies made by a
// Migrator live under MigratedKey(id) in the native store. The steps, in
// order, are in docs/migrating-from-express.md, section 5.
//
// See docs/migrating-from-express.md for a side-by-side of the options.
package express
