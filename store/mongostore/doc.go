// Package mongostore is a sessionkit.Store that keeps sessions in a MongoDB
// collection, using the official driver (go.mongodb.org/mongo-driver/v2).
// It works with MongoDB and with MongoDB-protocol servers such as FerretDB.
//
//	store, err := mongostore.Open(ctx, "mongodb://127.0.0.1:27017/myapp", mongostore.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	m := sessionkit.New(store)
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(m.Handler(mux)))
//
// Open takes the database from the URL path (here "myapp") unless
// Options.Database names one; an application that already has a
// *mongo.Client passes it to [New] instead and keeps ownership of it.
//
// # Documents
//
// One document per session, in the collection Options.Collection
// (default "sessions"):
//
//	{
//	  _id:     "<session key>",          // string
//	  data:    BinData(0, "..."),        // the encoded session, byte for byte
//	  version: NumberLong(...),          // compare-and-swap token
//	  expires: ISODate("..."),           // when the session ends
//	  user:    "<user key>"              // absent for sessions without a user
//	}
//
// with an index on user (the per-user index: [Store.UserSessions],
// [Store.DeleteUserSessions]) and one on expires.
//
// # Concurrency
//
// Save is a single compare-and-swap: an update replaces the document only
// if it is live and still carries the version the caller read; a new
// session is an upsert that matches only an expired document under its
// key, so that it fails with a duplicate _id (reported as
// sessionkit.ErrConflict) when a live session exists, and takes the place
// of an expired one. Touch sets expires and nothing else. This relies on
// MongoDB applying a filtered write to one document atomically.
//
// FerretDB v1 does not: it runs a filtered update or delete as a query
// followed by a write by _id, so two writers can both match the same
// version and one update is lost. When the server reports itself as
// FerretDB older than v2, the store says so in the log and guards its
// writes: before changing a document of version v it inserts a claim
// document whose _id is made of the key and v (inserts are atomic there,
// _id being unique), and deletes the claim afterwards. That costs two more
// round trips per write. Claims of a writer that died lapse after a
// minute; DeleteExpired removes them. Claim documents live in the same
// collection, have no expires field, and are never returned as sessions.
//
// # Expiry
//
// Reads never return a document whose expires has passed, whether or not
// it has been deleted yet. Deleting them is the server's job where it can:
// New lists the collection's indexes and, if a TTL index on expires alone
// is already there — connect-mongo's own "expires_1", or one made by the
// team — uses it, whatever its expireAfterSeconds (a delay only keeps
// expired documents on disk longer). Otherwise it creates one
// ("expires_ttl", expireAfterSeconds: 0), and MongoDB's TTL monitor
// removes expired documents about once a minute. When there can be no TTL
// index — the server refuses it (FerretDB v1), or a plain index on expires
// alone is in the way (MongoDB allows one index per key pattern; drop it
// to get the TTL index) — the store starts a background sweeper (every
// Options.SweepInterval) that Close stops. Which mechanism is in use, and
// why, is logged when the store is created; [Store.TTL] and
// [Store.TTLIndex] report it. [Store.DeleteExpired] deletes expired
// documents on demand in every case (the operator CLI's purge).
//
// # The connect-mongo layout
//
// With Options.Layout set to LayoutConnectMongo the store reads and writes
// connect-mongo's documents, so that a Go service shares sessions with an
// Express app (see compat/express):
//
//	{_id: "<session ID>", session: "<express-session JSON>", expires: ISODate("...")}
//
// (connect-mongo's default stringify: true). Keys are the raw session IDs
// and Record.Data is the session string. The version is a hash of it: Save
// reads the stored string, checks its hash and writes with a filter on
// that exact string, so a Go write never overwrites a change it did not
// read (connect-mongo's own writes are unconditional). The claim guard
// described above is not used for this layout, so on FerretDB v1 the
// check is best effort. There is no per-user index (UserSessions and
// DeleteUserSessions report sessionkit.ErrNotSupported); Options.UserKeyOf
// (compat/express's UserKey) derives Record.UserKey from the data on
// load. connect-mongo's autoRemove: 'native' (its default) creates the TTL
// index "expires_1", which this store adopts, whichever of the two starts
// first. FerretDB v1 has no TTL indexes: there, use autoRemove: 'disabled'
// on the Node side and let this store sweep.
//
// Record.Data is limited to [MaxDataSize] bytes by MongoDB's 16 MiB
// document limit.
package mongostore
