// Command demo is a small web app built on sessionkit: sign-up and
// sign-in with argon2id passwords, a counter kept in the session, a
// "Your sessions" page listing every browser signed in to the account
// with a way to sign each out (or all others at once), and flash messages.
// Every form is protected against cross-site requests by
// http.CrossOriginProtection; pages need no JavaScript and load nothing
// from other sites.
//
// Run it from the repository root:
//
//	go run ./examples/demo
//	go run ./examples/demo -addr 127.0.0.1:9000 -data /tmp/demo
//	go run ./examples/demo -store redis://127.0.0.1:6379/0
//	go run ./examples/demo -store 'postgres://postgres@127.0.0.1/test'
//
// By default the sessions live in a SQLite file, ./data/sessions.sqlite
// (store/sqlitestore), and the accounts in a bolt file, ./data/users.db,
// so both survive a restart. Other processes may open the sessions' file
// while the demo runs, so the operator CLI works beside it:
//
//	go run ./cmd/sessionkit --store sqlite://data/sessions.sqlite list
//	go run ./cmd/sessionkit --store sqlite://data/sessions.sqlite revoke --user alice
//
// With -store (any URL that package store/storeurl accepts) the sessions go
// elsewhere; with a bolt:// URL the accounts share the sessions' bolt file
// (which then only the demo can open while it runs). Interrupt it (Ctrl-C
// or SIGTERM) to stop: it finishes the requests in flight and closes the
// files.
//
// Flags:
//
//	-addr            address to listen on (default 127.0.0.1:8080)
//	-data            directory for the data files, created if missing (default ./data)
//	-store           session store URL (default sqlite://DATA/sessions.sqlite)
//	-secure-cookies  auto (Secure over HTTPS only, so plain http://localhost works),
//	                 always or never (default auto)
//	-oidc-issuer     an OpenID Connect provider's issuer URL: adds a "Sign in
//	                 with …" button (with -oidc-client-id, -oidc-client-secret
//	                 or $DEMO_OIDC_CLIENT_SECRET, -oidc-name, and
//	                 -oidc-redirect-url, default http://ADDR/auth/oidc/callback)
//	-metrics         serve the session metrics on /metrics, in the Prometheus
//	                 text format under contrib/prometheus's names (default off)
//
// The app itself is New (an http.Handler over a store and a Users
// database), which the tests drive with httptest; Run adds the flags, the
// listener and graceful shutdown.
package main
