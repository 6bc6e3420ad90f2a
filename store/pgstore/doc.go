// Package pgstore is a sessionkit.Store backed by a PostgreSQL table,
// using pgx v5 (pgxpool).
//
// Besides the Store methods it implements sessionkit.UserIndex (through an
// indexed user_key column), sessionkit.Iterator (keyset pagination by key,
// one short query per page), sessionkit.Sweeper and sessionkit.Closer.
//
// # Usage
//
//	store, err := pgstore.Open(ctx, "postgres://app:secret@db:5432/app", pgstore.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { // or create the table yourself, see below
//		return err
//	}
//	sessions := sessionkit.New(store)
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(sessions.Handler(mux)))
//
// Open creates a pool that the store owns and Close closes. To share a pool
// with the rest of the application, pass it to New instead: Close then
// leaves it open.
//
// # Schema
//
// Migrate runs the statements below (with the configured table name; the
// index names are derived from it). Teams that manage their schema with
// their own tools can run them instead; [Store.Schema] returns them for the
// store's table.
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//		key      text COLLATE "C" PRIMARY KEY, -- derived from the session ID
//		data     bytea       NOT NULL,         -- the encoded session
//		version  bigint      NOT NULL,         -- compare-and-swap token
//		expiry   timestamptz NOT NULL,         -- gone after this instant
//		user_key text                          -- owning user, NULL when none
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
//	CREATE INDEX IF NOT EXISTS "sessions_user_key_idx" ON "sessions" (user_key) WHERE user_key IS NOT NULL;
//
// Options.Table may be schema-qualified ("auth.sessions"); each part must be
// 1 to 63 ASCII letters, digits, '_' or '$', not starting with a digit or
// '$', and is quoted, so it is case-sensitive. Other names make New and Open
// fail.
//
// # Semantics
//
// A new record is stored with version 1; every Save increments the version
// with an UPDATE ... WHERE key = $1 AND version = $2, so a writer holding an
// old version gets sessionkit.ErrConflict. Creating a record (version 0) is
// an INSERT ... ON CONFLICT that fails cleanly on a live duplicate and takes
// over an expired row (an expired row counts as absent), continuing its
// version count so that no holder of an old version can match the new
// record. Touch updates the expiry only. Reads, Touch and the
// compare-and-swap ignore expired rows; the expiry is compared with the application's
// clock (the instant is passed as a parameter), not the server's, and
// timestamptz stores instants, so time zones do not matter.
//
// # Cleanup
//
// Expired rows are invisible at once but stay in the table until deleted.
// By default each Store runs a background sweeper every
// Options.CleanupInterval (five minutes, ±20% jitter) that deletes expired
// rows in batches of Options.CleanupBatch rows (FOR UPDATE SKIP LOCKED, so
// several instances do not wait on each other). Close stops it. Set
// CleanupInterval to a negative value to disable it and call DeleteExpired
// from cron or the CLI instead.
//
// # The connect-pg-simple layout
//
// With Options.Layout set to LayoutConnectPgSimple the store uses the
// table of connect-pg-simple (default name "session"), so that a Go
// service shares sessions with an Express app (see compat/express):
//
//	CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default",
//		"sess" json NOT NULL, "expire" timestamp(6) NOT NULL,
//		CONSTRAINT "session_pkey" PRIMARY KEY ("sid"));
//	CREATE INDEX "IDX_session_expire" ON "session" ("expire");
//
// Migrate creates it if missing. Keys are the raw session IDs; Record.Data
// is the sess JSON text, kept byte for byte (the json type stores its input
// verbatim); expire is converted to and from instants in SQL with the
// session's time zone, as connect-pg-simple's to_timestamp() does. The
// version is a hash of the stored text, and Save is compare-and-swap on it
// (UPDATE ... WHERE sid = $1 AND left(md5(sess::text), 16) = $4), so a Go
// write never overwrites a change it did not read; connect-pg-simple's own
// writes are unconditional. Saving identical text twice yields the same
// version. The layout has no user column: UserSessions and
// DeleteUserSessions report sessionkit.ErrNotSupported, and
// Options.UserKeyOf (compat/express's UserKey) derives Record.UserKey from
// the data on load.
//
// # Errors
//
// Operations on a table that does not exist fail with an error that wraps
// [ErrNoTable] and says so (`pgstore: load: table "sessions" does not
// exist: run Migrate`). A Save the server refuses for its size (SQLSTATE
// 54000, such as a user key too long for its index: a few KB) fails with an
// error that wraps [sessionkit.ErrTooLarge]. Connection failures and
// timeouts are returned wrapped; the pool replaces broken connections, so
// the store recovers by itself when the server comes back.
package pgstore
