// Package sqlitestore is a sessionkit.Store kept in a table of a SQLite
// database file, through modernc.org/sqlite (SQLite in pure Go: no cgo, no
// C toolchain). It is embedded and persistent like boltstore, and unlike
// it, several processes on one host can have the file open at once: two
// instances of the application, or the application and the sessionkit
// CLI listing and revoking its sessions while it runs.
//
//	store, err := sqlitestore.Open("data/sessions.db")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//
//	m := sessionkit.New(store)
//	http.ListenAndServe(":8080", m.Handler(mux))
//
// # Sharing the file
//
// Open puts the file in WAL mode: readers never wait for the writer and
// the writer never waits for readers, in this process or any other. Writes
// are serialised: within a process they queue in the Store (honouring
// their contexts); between processes the file's write lock decides, and a
// write waits for another process's write up to the busy timeout
// (WithBusyTimeout, default 5s, and never past its context's deadline)
// before it fails with SQLite's "database is locked". The store polls for
// the lock about every millisecond rather than leaving the wait to
// SQLite's busy handler, which sleeps up to 100ms between attempts and let
// a waiter starve for seconds behind a process writing without pause. A
// write holds the lock for a few statements and a commit, so under normal
// contention the timeout is far away: with 6 processes of 8 goroutines
// each hammering one record, the slowest of 184,000 calls took 0.15s (2
// processes writing without pause: 0.43s; docs/BENCHMARKS.md). It is
// reached when a process hangs holding the lock. The file must be on a
// local file system: WAL needs memory shared between the processes (the
// -shm file), which network file systems do not provide.
//
// # Durability and speed
//
// Every Save, Touch and Delete is committed before it returns. Writes
// that arrive while another is being committed are queued and committed
// together, in one transaction and one fsync, by the next of their
// callers (no background goroutine): commits/s grow with the number of
// concurrent writers. A write queued behind others whose context ends
// is dropped unrun; one that fails inside a group is retried alone, so it
// cannot fail the others. With SynchronousFull (the default) the commit
// is fsynced: an acknowledged write survives a crash of the process or of
// the machine. WithSynchronous(SynchronousNormal) fsyncs only at
// checkpoints, which is several times faster for a lone writer and still
// loses nothing acknowledged when the process is killed, but may lose
// the last commits on a power loss.
//
// # Compare-and-swap
//
// Save is one statement: INSERT ... ON CONFLICT DO UPDATE ... WHERE (new
// sessions; an expired row is taken over and keeps counting its versions)
// or UPDATE ... WHERE version = ? (existing ones), with RETURNING the new
// version, so the check and the write are atomic across processes.
//
// # Expiry
//
// Expired records are never returned: every query compares the expiry
// with the current time. A background sweeper started by Open (every
// minute by default, jittered; see WithSweepInterval) deletes them in
// statements of at most 1000 rows; Close stops it. DeleteExpired does the
// same on demand.
//
// # Schema
//
// Open creates the table (WithTable, default "sessions") and its indexes
// if they do not exist; Schema returns the statements:
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//		key      TEXT    NOT NULL PRIMARY KEY,
//		data     BLOB    NOT NULL,
//		version  INTEGER NOT NULL,
//		expiry   INTEGER NOT NULL, -- Unix time in milliseconds
//		user_key TEXT
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
//	CREATE INDEX IF NOT EXISTS "sessions_user_key_idx" ON "sessions" (user_key) WHERE user_key IS NOT NULL;
//
// The application may keep its own tables in the same file. The file is
// created with mode 0600 (WithFileMode) and its directories with 0700;
// every process that opens it must be able to write it and its
// directory.
//
// Besides sessionkit.Store the Store implements sessionkit.UserIndex (a
// user's sessions, for "log out everywhere"), sessionkit.Iterator,
// sessionkit.Sweeper and sessionkit.Closer. A record's data may be up to
// [MaxDataSize] bytes (SQLite's limit of 1,000,000,000 bytes a row, less 64
// KiB), though sessions should stay small; Save refuses a larger one with an
// error that wraps sessionkit.ErrTooLarge.
package sqlitestore
