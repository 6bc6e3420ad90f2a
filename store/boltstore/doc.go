// Package boltstore is a sessionkit.Store kept in a single bbolt file
// (go.etcd.io/bbolt): embedded, persistent across restarts, and crash-safe.
// It needs no server and has the cheapest reads of the persistent stores,
// but only one process can have the file open: when another process — a
// second instance, or the sessionkit CLI while the application runs —
// must reach the same sessions, use store/sqlitestore.
//
//	store, err := boltstore.Open("data/sessions.db")
//	if err != nil {
//		log.Fatal(err) // e.g. "file is locked by another process (waited 1s)"
//	}
//	defer store.Close()
//
//	m := sessionkit.New(store)
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(m.Handler(mux)))
//
// # Durability and speed
//
// Every Save, Touch and Delete is committed and fsynced before it returns.
// Concurrent writes go through bbolt's DB.Batch, so writers arriving within
// a short window (WithBatchDelay) share one transaction and one fsync:
// throughput grows with the number of concurrent requests while each write
// still reaches the disk before it is acknowledged.
//
// # One process per file
//
// bbolt locks the file for the process that opened it. A second process
// calling Open on the same file waits up to WithLockTimeout (one second by
// default) and then fails with an error wrapping ErrLocked that names the
// file. Run one instance per file, or use sqlitestore (several processes
// on one host) or a networked store (redisstore, pgstore, ...) when several
// processes must share sessions.
//
// # Expiry
//
// Expired records are never returned: every read checks the expiry. A
// background sweeper started by Open and New (every minute by default; see
// WithSweepInterval) deletes them through an expiry index, in small
// transactions; Close stops it. DeleteExpired does the same on demand.
//
// # Sharing a database
//
// Callers that already use bbolt can keep sessions in their own database
// with New(db), which keeps everything under one top-level bucket (see
// WithBucket) and leaves the database open on Close.
//
// Besides sessionkit.Store the Store implements sessionkit.UserIndex (a
// user's sessions, for "log out everywhere"), sessionkit.Iterator,
// sessionkit.Sweeper and sessionkit.Closer. A record's data may be up to
// [MaxDataSize] bytes (bbolt's value limit, about 2 GiB, less 64 KiB), though
// sessions should stay small; Save refuses a larger one, or a user key too
// long for bbolt's key limit (32 KiB) in the per-user index, with an error
// that wraps sessionkit.ErrTooLarge.
package boltstore
