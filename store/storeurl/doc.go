// Package storeurl opens any of sessionkit's server-side stores from a
// URL, so that a program can let its operator choose the store with one
// flag or environment variable. The sessionkit command-line tool and the
// demo use it.
//
//	store, err := storeurl.Open(ctx, os.Getenv("SESSION_STORE"), storeurl.Options{})
//	if err != nil {
//		log.Fatal(err) // names the scheme and what is wrong; never the password
//	}
//	defer store.Close()
//	m := sessionkit.New(store)
//
// Open connects (bounded by ctx) and returns the store package's own value
// — a *redisstore.Store, *pgstore.Store, ... — as a [Store], which adds
// Close. Type assertions for sessionkit.UserIndex, sessionkit.Iterator and
// sessionkit.Sweeper work as usual. Errors caused by the URL itself wrap
// [ErrBadURL]; [Check] validates a URL without connecting.
//
// # Schemes
//
// The options in the tables below are read by this package and removed
// before the URL goes to the store's own parser; every other option is the
// driver's (listed under each scheme). Durations are Go durations (500ms,
// 30s, 5m); sweep_interval=off (or 0) turns the background sweeper off.
// Options.NoSweeper turns it off whatever the URL says.
//
// memory:// — an in-process store (store/memstore). Each Open returns a
// new, empty store that lives as long as the process: useful for demos and
// tests only.
//
//	max_entries      most records kept (default 1,000,000)
//	max_bytes        most bytes kept (default 256 MiB); one record over
//	                 its shard's share is refused with ErrTooLarge: a 32nd
//	                 of max_bytes, but at least 1 MiB, and all of it under
//	                 2 MiB; fewer shards, so a larger share, when
//	                 max_entries is under 131,072 (one shard under 8,192;
//	                 see memstore.Options.Shards)
//	sweep_interval   how often expired records are removed (default 1m)
//
// bolt://PATH — a bbolt file (store/boltstore). bolt://sessions.db is
// relative to the working directory, bolt:///var/lib/app/sessions.db is
// absolute; the path is percent-decoded. The file, its directories and
// the bucket are created unless Options.NoCreate is set. Only one process can have the
// file open: a second one waits lock_timeout (or until ctx's deadline, if
// that comes first) and fails with boltstore.ErrLocked.
//
//	bucket           top-level bucket (default "sessionkit")
//	lock_timeout     how long to wait for another process's lock (default 1s)
//	sweep_interval   how often expired records are removed (default 1m)
//
// sqlite://PATH — a SQLite file (store/sqlitestore), spelled like bolt://:
// sqlite://sessions.db is relative to the working directory,
// sqlite:///var/lib/app/sessions.db is absolute; the path is
// percent-decoded. The file, its directories and the table are created
// unless Options.NoCreate is set (then a missing file is an error that
// wraps fs.ErrNotExist). Any number of processes on the host can have the
// file open at once — the application, and the sessionkit CLI beside it.
//
//	table            table (default "sessions")
//	busy_timeout     how long a write waits for another process's write (default 5s)
//	synchronous      full (fsync every commit, the default) or normal (fsync at checkpoints)
//	sweep_interval   how often expired rows are deleted (default 1m)
//
// redis://, rediss:// — Redis (store/redisstore), a single node:
//
//	redis://[[user]:password@]host[:port][/db][?options]
//
// redis+sentinel://, rediss+sentinel:// — a master found through
// Sentinel; list the sentinels (default port 26379) and name the master:
//
//	redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?options]
//
// redis+cluster://, rediss+cluster:// — a Redis Cluster, from one or more
// seed nodes (no database number):
//
//	redis+cluster://[[user]:password@]host[:port][,host[:port]...][?options]
//
// The rediss forms use TLS. Options:
//
//	prefix           key prefix (default "sessionkit:", or "sess:" with
//	                 layout=connect-redis); no '{' or '}'
//	auto_pipeline    true: send concurrent requests' commands in shared
//	                 pipelines (redisstore.Options.AutoPipeline)
//	layout           native (default) or connect-redis (see "Express
//	                 layouts" below)
//	near_cache       true: keep loaded sessions in the process, invalidated
//	                 by Redis (redisstore.Options.NearCache; Redis 6+)
//	near_cache_entries, near_cache_bytes, near_cache_heartbeat
//	                 its bounds and heartbeat (redisstore.NearCache's
//	                 MaxEntries, MaxBytes, Heartbeat); need near_cache=true;
//	                 a heartbeat below 100ms leaves the cache unused most
//	                 of the time on a quiet Redis (see NearCache.Heartbeat)
//	near_cache_always_track
//	                 true: the cache never goes idle
//	                 (redisstore.NearCache.AlwaysTrack); needs
//	                 near_cache=true
//
// and redisstore.ParseURL's: dial_timeout, read_timeout, write_timeout,
// pool_timeout, pool_size, min_idle_conns, max_retries, protocol,
// client_name, sentinel_username, sentinel_password.
//
// postgres://, postgresql:// — PostgreSQL (store/pgstore), any URL
// pgx accepts (sslmode=, pool_max_conns=, ...):
//
//	postgres://user:password@host:5432/dbname?sslmode=disable&table=sessions
//
//	table            table, optionally schema.table (default "sessions",
//	                 or "session" with layout=connect-pg-simple)
//	sweep_interval   how often expired rows are deleted (default 5m)
//	layout           native (default) or connect-pg-simple
//
// The table and its indexes are created if missing, unless
// Options.NoCreate is set.
//
// mysql://, mariadb:// — MySQL or MariaDB (store/mysqlstore):
//
//	mysql://user:password@host:3306/dbname?table=sessions
//
//	table            table, optionally database.table (default "sessions")
//	sweep_interval   how often expired rows are deleted (default 5m)
//
// Other options are go-sql-driver DSN parameters (tls=, timeout=, ...), and
// socket=/path/to/mysqld.sock connects through a Unix socket (see
// mysqlstore.DSNFromURL). The table is created if missing, unless
// Options.NoCreate is set.
//
// mongodb://, mongodb+srv:// — MongoDB or FerretDB (store/mongostore), any
// connection string the official driver accepts; the path names the
// database (default "sessionkit"):
//
//	mongodb://user:password@host:27017/app?collection=sessions
//
//	collection       collection (default "sessions")
//	sweep_interval   sweeper period when the server has no TTL index (default 1m)
//	layout           native (default) or connect-mongo
//
// The store creates the collection, unless Options.NoCreate is set, and
// its indexes (a TTL index where the server has them).
//
// # Express layouts
//
// layout=connect-redis (on every redis scheme), layout=connect-pg-simple
// (postgres) and layout=connect-mongo (mongodb) open the store in the
// layout the express-session store of that name writes, with the session
// ID as the key: connect-redis's Prefix + ID strings (prefix default
// "sess:"), connect-pg-simple's session(sid, sess, expire) table (table
// default "session"), connect-mongo's {_id, session, expires} documents
// with stringify: true (collection default "sessions"). Each record's
// user is Passport's passport.user (compat/express's UserKey), so
// listings show who owns a session; these layouts have no per-user index.
// This is what a Go service sharing sessions with an Express app uses
// (see compat/express), and what the sessionkit command's migrate reads
// to move those sessions into the native layout
// (docs/migrating-from-express.md). [Layout] reports which layout a URL
// names.
//
// # Errors
//
// Every error begins with "storeurl:" and the scheme ("storeurl: postgres
// URL: ..."; when the scheme is missing or unknown, "storeurl:" and what is
// wrong with it), says what is wrong
// ("unknown option", "bad port", "connect to 127.0.0.1:5432: ...") and shows
// the URL, if at all, with its password replaced by xxxxx ([Redact]);
// driver messages are scrubbed of the password too.
package storeurl
