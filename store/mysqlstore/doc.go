// Package mysqlstore is a sessionkit.Store backed by a MySQL or MariaDB
// table, using database/sql with github.com/go-sql-driver/mysql. It is
// tested on MariaDB 10.11.
//
// Besides the Store methods it implements sessionkit.UserIndex (through an
// indexed user_key column), sessionkit.Iterator (keyset pagination by key,
// one short query per page), sessionkit.Sweeper and sessionkit.Closer.
//
// # Usage
//
//	store, err := mysqlstore.Open(ctx, "mysql://app:secret@db:3306/app", mysqlstore.Options{})
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
// Open accepts a go-sql-driver DSN ("app:secret@tcp(db:3306)/app") or a
// mysql:// URL ([DSNFromURL] converts one into the other), creates a pool
// that the store owns and Close closes, and turns on interpolateParams
// unless the DSN sets it (each call is then one round trip instead of
// three). To share a *sql.DB with the rest of the application, pass it to
// New instead: Close then leaves it open.
//
// # Schema
//
// Migrate runs the statement below (with the configured table name).
// Teams that manage their schema with their own tools can run it instead;
// [Store.Schema] returns it for the store's table.
//
//	CREATE TABLE IF NOT EXISTS `sessions` (
//		`key`      VARBINARY(256)  NOT NULL,  -- derived from the session ID
//		`data`     LONGBLOB        NOT NULL,  -- the encoded session
//		`version`  BIGINT UNSIGNED NOT NULL,  -- compare-and-swap token
//		`expiry`   BIGINT          NOT NULL COMMENT 'Unix time in milliseconds (UTC)',
//		`user_key` VARBINARY(255)  NULL,      -- owning user, NULL when none
//		PRIMARY KEY (`key`),
//		KEY `expiry_idx` (`expiry`),
//		KEY `user_key_idx` (`user_key`)
//	) ENGINE=InnoDB
//
// Keys and user keys are binary strings, so they compare byte by byte
// whatever the server's collation (session keys are case-sensitive). The
// expiry is a Unix time in milliseconds rather than a DATETIME, so neither
// the server's nor the connection's time zone can shift it; expiries are
// kept with millisecond precision. Records are limited by the server's
// max_allowed_packet (16 MiB by default on MariaDB): Save refuses a larger
// one with an error that wraps [sessionkit.ErrTooLarge] (with New, when the
// DSN has maxAllowedPacket=0; see there). Options.Table may be
// qualified with a database name ("auth.sessions"); each part must be 1 to
// 64 ASCII letters, digits, '_' or '$', not starting with '$', and is quoted
// with backticks. Other names make New and Open fail.
//
// # Semantics
//
// A new record is stored with version 1; every Save increments the version
// with an UPDATE ... WHERE `key` = ? AND `version` = ?, so a writer holding
// an old version gets sessionkit.ErrConflict. Creating a record (version 0)
// is an INSERT that fails cleanly on a duplicate key; when the existing row
// has expired (an expired row counts as absent) it is taken over instead,
// continuing its version count so that no holder of an old version can
// match the new record. Touch updates the expiry only. Reads, Touch and the
// compare-and-swap ignore expired rows; the expiry is compared with the
// application's clock, not the server's.
//
// # Cleanup
//
// Expired rows are invisible at once but stay in the table until deleted.
// By default each Store runs a background sweeper every
// Options.CleanupInterval (five minutes, ±20% jitter) that deletes expired
// rows in batches of Options.CleanupBatch rows (DELETE ... ORDER BY expiry
// LIMIT n). Close stops it. Set CleanupInterval to a negative value to
// disable it and call DeleteExpired from cron or the CLI instead.
//
// # Errors
//
// Operations on a table that does not exist fail with an error that wraps
// [ErrNoTable] and says so (`mysqlstore: load: table "sessions" does not
// exist: run Migrate`). Connection failures and timeouts are returned
// wrapped; database/sql replaces broken connections, so the store recovers
// by itself when the server comes back.
package mysqlstore
