// Command sessionkit is the operator's tool for sessionkit session stores:
// it counts, lists, shows, revokes, purges and migrates sessions, and
// checks that a store is set up.
//
// The store is named by a URL (package store/storeurl documents every
// scheme and option), given with --store or the SESSIONKIT_STORE
// environment variable. A SQLite file (sqlite://) may be inspected and
// changed while the application has it open; a bolt file (bolt://) only
// once the application has closed it.
//
//	sessionkit --store sqlite://data/sessions.sqlite stats
//	export SESSIONKIT_STORE='redis://127.0.0.1:6379/0?prefix=myapp:'
//	sessionkit list --user alice
//	sessionkit list --limit 100 --after 2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU
//	sessionkit show 2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU   # a store key
//	sessionkit show "$SESSION_ID" --json                           # or a session ID
//	sessionkit revoke "$SESSION_ID"
//	sessionkit revoke --user alice
//	sessionkit --store 'postgres://app@db/app?table=sessions' purge
//	sessionkit migrate --from redis://old:6379/0 --to 'postgres://app@db/app?table=sessions'
//	sessionkit migrate --from 'redis://cache:6379/0?layout=connect-redis' --to redis://cache:6379/0
//	sessionkit doctor 'mysql://app:secret@db:3306/app' --fix
//
// # Commands
//
//   - stats: number of sessions, bytes, sessions by age (time since
//     creation), sessions with a user and the users with the most.
//   - list: sessions sorted by store key, --limit per page (default 50),
//     --after KEY for the next page, --user to list one user's sessions.
//   - show ID-OR-KEY: one session's metadata and values (as JSON). The
//     argument is tried as a store key first, then as a session ID hashed
//     the way the Manager does it (Manager.KeyOf).
//   - list and show take the application's lifetimes, --idle-timeout
//     (default 2h) and --lifetime (default 24h), the Manager's
//     IdleTimeout and Lifetime (0: none), to infer a session's last use
//     from its expiry and its deadline from its creation time.
//   - revoke ID-OR-KEY, revoke --user USER: delete one session, or every
//     session of a user through the store's user index.
//   - purge: delete expired records from stores that keep them until swept
//     (sessionkit.Sweeper: bolt, SQLite, SQL, MongoDB without TTL); a no-op
//     on Redis.
//   - migrate --from URL --to URL: copy live sessions with their expiry and
//     user; idempotent (sessions already on the target are left alone and
//     counted); --dry-run; a progress bar with rate and ETA on a terminal
//     (or with --progress); --workers concurrent writes (default 8). From
//     an express-session store (?layout=connect-redis, connect-pg-simple or
//     connect-mongo) to a native one it makes native copies of the express
//     sessions for compat/express's Importer instead: Passport's user as
//     the owner, the cookie's lifetime, kept up to date by each run (copies
//     of sessions that ended are removed after a complete run); --ttl, the
//     Node store's ttl, and --user-field (default _user).
//   - doctor [URL]: URL, connectivity, server version, table and indexes,
//     clock skew where the server's clock expires sessions, and a probe
//     session written, read and deleted (--no-write skips it); --fix creates
//     a missing SQL table, SQLite or bolt file, bolt bucket or MongoDB
//     collection.
//
// Every command takes --json (machine-readable output on stdout, strings
// not escaped for HTML),
// --timeout (default 10s: bounds connecting and each store operation; a
// listing fails if the store sends nothing for that long) and -v
// (the stores' informational logs). Only migrate (on its target) and
// doctor --fix create tables, files or buckets; the other commands fail on a store
// that does not exist rather than create one. Background sweepers never
// run inside the tool.
//
// # Exit codes
//
//	0  success
//	1  the operation failed (server unreachable, timeout, store error, a doctor check failed)
//	2  usage error: unknown command or flag, wrong arguments, a malformed store URL
//	3  not found: show or revoke of a session that does not exist, revoke --user of a user with none
//
// Errors go to stderr, prefixed "sessionkit:"; store URLs in messages have
// their passwords replaced by xxxxx.
package main
