package storeurl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/urlredact"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

// ErrBadURL is wrapped by every error that Open (or Check) returns because
// the URL itself is wrong: no or an unknown scheme, a malformed part, an
// unknown or invalid option. Errors that do not wrap it come from
// connecting to or preparing the store.
var ErrBadURL = errors.New("bad store URL")

// Store is what Open returns: a sessionkit.Store that must be closed.
// The dynamic type is the store package's own (*redisstore.Store,
// *pgstore.Store, ...), so optional capabilities such as
// sessionkit.UserIndex, sessionkit.Iterator and sessionkit.Sweeper are
// found by type assertion as usual.
type Store interface {
	sessionkit.Store
	// Close releases what Open created: connection pools, the bolt or
	// SQLite file, background sweepers. It is safe to call more than
	// once; the store must not be used afterwards.
	Close() error
}

// Options adjusts Open. The zero value suits an application: missing
// tables and files are created and stores that need it run their
// background sweeper.
type Options struct {
	// NoCreate makes Open fail instead of creating what the URL names
	// when it does not exist: a bolt:// or sqlite:// file is not created,
	// nor a bolt file's bucket (Open fails with boltstore.ErrNoBucket),
	// and the SQL stores' table (SQLite's too) is not created (operations
	// then fail with the store's ErrNoTable), nor a MongoDB collection
	// (Open fails with mongostore.ErrNoCollection; an existing collection
	// still gets its indexes). Tools that only inspect a store set it.
	NoCreate bool

	// NoSweeper turns off the background sweeper of stores that have one
	// (bolt, SQLite, memory, PostgreSQL, MySQL, MongoDB without TTL
	// indexes),
	// whatever the URL's sweep_interval says. Short-lived tools set it;
	// expired records stay invisible and sessionkit.Sweeper removes them
	// on demand.
	NoSweeper bool

	// Logger is handed to the stores that log (sweeper failures, the
	// MongoDB expiry mechanism). Default slog.Default().
	Logger *slog.Logger
}

// Open parses rawURL (see the package documentation for the schemes and
// their options), connects to the store it names within ctx, and returns
// it. Errors name the scheme and what is wrong, wrap ErrBadURL when the URL
// is at fault, and never contain the URL's password.
func Open(ctx context.Context, rawURL string, opts Options) (Store, error) {
	p, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := p.open(ctx, opts)
	if err != nil {
		return nil, p.redact(err)
	}
	return s, nil
}

// Check reports whether rawURL is a store URL that Open would accept,
// without connecting to the store. It catches every error that wraps
// ErrBadURL except those only the server can detect. A mongodb+srv:// URL
// is the one that costs network I/O: as Open does, Check has the MongoDB
// driver look up its host's SRV and TXT records in DNS, which may add
// options.
func Check(rawURL string) error {
	p, err := parse(rawURL)
	if err != nil {
		return err
	}
	return p.redact(p.check())
}

// Scheme returns the lower-cased scheme of rawURL ("redis+sentinel",
// "postgres", ...), or "" when it has none.
func Scheme(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return ""
	}
	return strings.ToLower(scheme)
}

// Redact returns rawURL with its password (in the user information, and
// in any query option whose name contains "password") replaced by
// "xxxxx", for messages and logs.
func Redact(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	if k := kind(strings.ToLower(scheme)); k == kindBolt || k == kindSQLite {
		return rawURL
	}
	return urlredact.Redact(rawURL, isPasswordOption)
}

// isPasswordOption reports whether a query option holds a password.
func isPasswordOption(name string) bool {
	return strings.Contains(strings.ToLower(name), "password")
}

type storeKind int

const (
	kindUnknown storeKind = iota
	kindMemory
	kindBolt
	kindSQLite
	kindRedis
	kindPostgres
	kindMySQL
	kindMongo
)

func kind(scheme string) storeKind {
	switch scheme {
	case "memory":
		return kindMemory
	case "bolt":
		return kindBolt
	case "sqlite":
		return kindSQLite
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
		return kindRedis
	case "postgres", "postgresql":
		return kindPostgres
	case "mysql", "mariadb":
		return kindMySQL
	case "mongodb", "mongodb+srv":
		return kindMongo
	}
	return kindUnknown
}

// ownParams lists, per kind, the query options this package consumes; the
// others are left in the URL for the store's own parser.
var ownParams = map[storeKind][]string{
	kindMemory:   {"max_entries", "max_bytes", "sweep_interval"},
	kindBolt:     {"bucket", "lock_timeout", "sweep_interval"},
	kindSQLite:   {"table", "busy_timeout", "synchronous", "sweep_interval"},
	kindRedis:    {"prefix", "auto_pipeline", "layout", "near_cache", "near_cache_entries", "near_cache_bytes", "near_cache_heartbeat", "near_cache_always_track"},
	kindPostgres: {"table", "sweep_interval", "layout"},
	kindMySQL:    {"table", "sweep_interval"},
	kindMongo:    {"collection", "sweep_interval", "layout"},
}

// parsed is a URL split into what this package reads (params) and what is
// handed on to the store's own parser (clean).
type parsed struct {
	raw     string
	scheme  string
	kind    storeKind
	rest    string            // after "scheme://", without the query (bolt, sqlite, memory)
	clean   string            // rawURL without this package's options
	params  map[string]string // this package's options
	secrets []string
}

func badURL(scheme, raw, format string, args ...any) error {
	what := "store URL"
	if scheme != "" {
		what = scheme + " URL"
	}
	return fmt.Errorf("storeurl: %s %q: %s: %w", what, Redact(raw), fmt.Sprintf(format, args...), ErrBadURL)
}

func parse(rawURL string) (*parsed, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, fmt.Errorf("storeurl: empty store URL (want memory://, bolt://PATH, sqlite://PATH, redis://HOST, postgres://HOST/DB, mysql://HOST/DB or mongodb://HOST/DB): %w", ErrBadURL)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || scheme == "" {
		return nil, badURL("", rawURL, "no scheme (want memory://, bolt://PATH, sqlite://PATH, redis://HOST, postgres://HOST/DB, mysql://HOST/DB or mongodb://HOST/DB)")
	}
	p := &parsed{raw: rawURL, scheme: strings.ToLower(scheme)}
	p.kind = kind(p.scheme)
	if p.kind == kindUnknown {
		return nil, badURL("", rawURL, "unknown scheme %q (want memory, bolt, sqlite, redis, rediss, redis+sentinel, redis+cluster, postgres, mysql, mariadb, mongodb or mongodb+srv)", scheme)
	}
	p.secrets = secretsOf(rest)

	base, query, _ := strings.Cut(rest, "?")
	p.rest = base
	p.params = map[string]string{}
	own := ownParams[p.kind]
	var keep []string
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			rawName, rawVal, _ := strings.Cut(kv, "=")
			name, err1 := url.QueryUnescape(rawName)
			val, err2 := url.QueryUnescape(rawVal)
			if err1 != nil || err2 != nil {
				return nil, badURL(p.scheme, rawURL, "bad query option %q", rawName)
			}
			if contains(own, name) {
				p.params[name] = val
				continue
			}
			keep = append(keep, kv)
		}
	}
	p.clean = scheme + "://" + base
	if len(keep) > 0 {
		p.clean += "?" + strings.Join(keep, "&")
	}
	if (p.kind == kindMemory || p.kind == kindBolt || p.kind == kindSQLite) && len(keep) > 0 {
		name, _, _ := strings.Cut(keep[0], "=")
		return nil, badURL(p.scheme, rawURL, "unknown option %q (want one of %s)", name, strings.Join(own, ", "))
	}
	return p, nil
}

// secretsOf returns the passwords in the part of a URL after "://", raw
// and percent-decoded, so that errors from drivers can be scrubbed of them.
func secretsOf(rest string) []string {
	var out []string
	add := func(s string) {
		if len(s) < 4 {
			return // too short to scrub without mangling the message
		}
		out = append(out, s)
		if d, err := url.PathUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	if from, to, ok := urlredact.PasswordSpan("", rest); ok {
		pass := rest[from:to]
		add(pass)
		// A driver that misread the URL may quote a piece of it.
		if pieces := strings.FieldsFunc(pass, func(r rune) bool { return strings.ContainsRune("/?#@", r) }); len(pieces) > 1 {
			for _, p := range pieces {
				add(p)
			}
		}
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		for _, kv := range strings.Split(query, "&") {
			if name, val, ok := strings.Cut(kv, "="); ok && isPasswordOption(name) {
				add(val)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// redact scrubs the URL's passwords from err's message, keeping err in the
// chain for errors.Is and errors.As.
func (p *parsed) redact(err error) error {
	if err == nil || len(p.secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: p.secrets}
}

type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

func (p *parsed) fail(format string, args ...any) error {
	return badURL(p.scheme, p.raw, format, args...)
}

// duration reads a Go duration option; "off" and negative values mean
// disabled (-1).
func (p *parsed) duration(name string) (time.Duration, bool, error) {
	v, ok := p.params[name]
	if !ok {
		return 0, false, nil
	}
	if v == "off" {
		return -1, true, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, false, p.fail("option %s=%q: want a duration such as 30s or 5m, or off", name, v)
	}
	if d <= 0 {
		d = -1
	}
	return d, true, nil
}

func (p *parsed) integer(name string) (int64, bool, error) {
	v, ok := p.params[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, p.fail("option %s=%q: want a positive integer", name, v)
	}
	return n, true, nil
}

// check validates everything that can be validated without a server.
func (p *parsed) check() error {
	switch p.kind {
	case kindMemory:
		_, err := p.memOptions(Options{})
		return err
	case kindBolt:
		_, _, err := p.boltOptions(Options{})
		return err
	case kindSQLite:
		_, _, err := p.sqliteOptions(Options{})
		return err
	case kindRedis:
		_, err := p.redisOptions()
		return err
	case kindPostgres:
		_, _, err := p.pgOptions(context.Background(), Options{})
		return err
	case kindMySQL:
		_, _, err := p.mysqlOptions(Options{})
		return err
	case kindMongo:
		_, err := p.mongoOptions(Options{})
		return err
	}
	return p.fail("unknown scheme")
}

func (p *parsed) open(ctx context.Context, opts Options) (Store, error) {
	switch p.kind {
	case kindMemory:
		o, err := p.memOptions(opts)
		if err != nil {
			return nil, err
		}
		return memstore.New(o), nil

	case kindBolt:
		path, bo, err := p.boltOptions(opts)
		if err != nil {
			return nil, err
		}
		if opts.NoCreate {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("storeurl: bolt: %s does not exist: %w", path, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("storeurl: bolt: open %s: %w", path, err)
		}
		// Waiting for another process's lock is part of connecting: it
		// ends at ctx's deadline when that comes before lock_timeout.
		if deadline, ok := ctx.Deadline(); ok {
			wait, _, _ := p.duration("lock_timeout")
			if wait <= 0 {
				wait = boltstore.DefaultLockTimeout
			}
			if left := time.Until(deadline); left < wait {
				bo = append(bo, boltstore.WithLockTimeout(max(left, time.Millisecond)))
			}
		}
		s, err := boltstore.Open(path, bo...)
		if err != nil {
			return nil, fmt.Errorf("storeurl: bolt: %w", err)
		}
		return s, nil

	case kindSQLite:
		path, so, err := p.sqliteOptions(opts)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("storeurl: sqlite: open %s: %w", path, err)
		}
		s, err := sqlitestore.Open(path, so...)
		if err != nil {
			return nil, fmt.Errorf("storeurl: sqlite: %w", err)
		}
		return s, nil

	case kindRedis:
		ro, err := p.redisOptions()
		if err != nil {
			return nil, err
		}
		s, err := redisstore.NewFromURL(ctx, p.clean, ro)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
		}
		return s, nil

	case kindPostgres:
		_, po, err := p.pgOptions(ctx, opts)
		if err != nil {
			return nil, err
		}
		s, err := pgstore.Open(ctx, p.clean, po)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
		}
		if !opts.NoCreate {
			if err := s.Migrate(ctx); err != nil {
				s.Close()
				return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
			}
		}
		return s, nil

	case kindMySQL:
		dsn, mo, err := p.mysqlOptions(opts)
		if err != nil {
			return nil, err
		}
		s, err := mysqlstore.Open(ctx, dsn, mo)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
		}
		if !opts.NoCreate {
			if err := s.Migrate(ctx); err != nil {
				s.Close()
				return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
			}
		}
		return s, nil

	case kindMongo:
		mo, err := p.mongoOptions(opts)
		if err != nil {
			return nil, err
		}
		s, err := mongostore.Open(ctx, p.clean, mo)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %s: %w", p.scheme, err)
		}
		return s, nil
	}
	return nil, p.fail("unknown scheme")
}

func (p *parsed) memOptions(opts Options) (memstore.Options, error) {
	var o memstore.Options
	if p.rest != "" && p.rest != "/" {
		return o, p.fail("memory:// takes no host or path")
	}
	n, _, err := p.integer("max_entries")
	if err != nil {
		return o, err
	}
	o.MaxEntries = int(n)
	if o.MaxBytes, _, err = p.integer("max_bytes"); err != nil {
		return o, err
	}
	if o.SweepInterval, _, err = p.duration("sweep_interval"); err != nil {
		return o, err
	}
	if opts.NoSweeper {
		o.SweepInterval = -1
	}
	return o, nil
}

// filePath is the file an embedded store's URL names: everything between
// "scheme://" and the query, percent-decoded. scheme://rel/file.db is
// relative to the working directory, scheme:///abs/file.db absolute.
func (p *parsed) filePath() (string, error) {
	path, err := url.PathUnescape(p.rest)
	if err != nil {
		return "", p.fail("bad path: %v", err)
	}
	if path == "" {
		return "", p.fail("no file path (want %[1]s://relative/file.db or %[1]s:///absolute/file.db)", p.scheme)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return "", p.fail("the path contains a NUL byte")
	}
	return path, nil
}

func (p *parsed) sqliteOptions(opts Options) (string, []sqlitestore.Option, error) {
	path, err := p.filePath()
	if err != nil {
		return "", nil, err
	}
	so := []sqlitestore.Option{sqlitestore.WithLogger(opts.Logger)}
	if t, ok := p.params["table"]; ok {
		if err := sqlitestore.CheckTable(t); err != nil {
			return "", nil, fmt.Errorf("storeurl: %s URL: option table: %w: %w", p.scheme, err, ErrBadURL)
		}
		so = append(so, sqlitestore.WithTable(t))
	}
	d, ok, err := p.duration("busy_timeout")
	if err != nil {
		return "", nil, err
	}
	if ok {
		if d <= 0 {
			return "", nil, p.fail("option busy_timeout must be positive")
		}
		so = append(so, sqlitestore.WithBusyTimeout(d))
	}
	if v, ok := p.params["synchronous"]; ok {
		switch strings.ToLower(v) {
		case "full":
			so = append(so, sqlitestore.WithSynchronous(sqlitestore.SynchronousFull))
		case "normal":
			so = append(so, sqlitestore.WithSynchronous(sqlitestore.SynchronousNormal))
		default:
			return "", nil, p.fail("option synchronous=%q: want full or normal", v)
		}
	}
	d, ok, err = p.duration("sweep_interval")
	if err != nil {
		return "", nil, err
	}
	if ok {
		so = append(so, sqlitestore.WithSweepInterval(d))
	}
	if opts.NoSweeper {
		so = append(so, sqlitestore.WithSweepInterval(0))
	}
	if opts.NoCreate {
		so = append(so, sqlitestore.WithNoCreate())
	}
	return path, so, nil
}

func (p *parsed) boltOptions(opts Options) (string, []boltstore.Option, error) {
	path, err := p.filePath()
	if err != nil {
		return "", nil, err
	}
	bo := []boltstore.Option{boltstore.WithLogger(opts.Logger)}
	if b, ok := p.params["bucket"]; ok {
		if b == "" {
			return "", nil, p.fail("option bucket is empty")
		}
		bo = append(bo, boltstore.WithBucket(b))
	}
	d, ok, err := p.duration("lock_timeout")
	if err != nil {
		return "", nil, err
	}
	if ok {
		if d <= 0 {
			return "", nil, p.fail("option lock_timeout must be positive")
		}
		bo = append(bo, boltstore.WithLockTimeout(d))
	}
	d, ok, err = p.duration("sweep_interval")
	if err != nil {
		return "", nil, err
	}
	if ok {
		bo = append(bo, boltstore.WithSweepInterval(d))
	}
	if opts.NoSweeper {
		bo = append(bo, boltstore.WithSweepInterval(0))
	}
	if opts.NoCreate {
		bo = append(bo, boltstore.WithNoCreate())
	}
	return path, bo, nil
}

func (p *parsed) redisOptions() (redisstore.Options, error) {
	if _, err := redisstore.ParseURL(p.clean); err != nil {
		return redisstore.Options{}, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	prefix, ok := p.params["prefix"]
	if ok && prefix == "" {
		return redisstore.Options{}, p.fail("option prefix is empty")
	}
	if strings.ContainsAny(prefix, "{}") {
		return redisstore.Options{}, p.fail("option prefix=%q must not contain '{' or '}'", prefix)
	}
	ro := redisstore.Options{Prefix: prefix}
	layout, err := p.layout()
	if err != nil {
		return redisstore.Options{}, err
	}
	if layout != "" {
		ro.Layout, ro.UserKeyOf = redisstore.LayoutConnectRedis, express.UserKey
	}
	if v, ok := p.params["auto_pipeline"]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return redisstore.Options{}, p.fail("option auto_pipeline=%q is not true or false", v)
		}
		ro.AutoPipeline = on
	}
	nc := redisstore.NearCache{}
	var set [4]bool
	entries, set0, err := p.integer("near_cache_entries")
	if err != nil {
		return redisstore.Options{}, err
	}
	if entries > math.MaxInt32 {
		return redisstore.Options{}, p.fail("option near_cache_entries=%d is too large", entries)
	}
	nc.MaxEntries, set[0] = int(entries), set0
	if nc.MaxBytes, set[1], err = p.integer("near_cache_bytes"); err != nil {
		return redisstore.Options{}, err
	}
	// The heartbeat cannot be turned off (p.duration's "off"): without
	// it a broken connection could serve changed records indefinitely.
	if v, ok := p.params["near_cache_heartbeat"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond {
			return redisstore.Options{}, p.fail("option near_cache_heartbeat=%q: want a duration of at least 10ms, such as 500ms", v)
		}
		nc.Heartbeat, set[2] = d, true
	}
	if v, ok := p.params["near_cache_always_track"]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return redisstore.Options{}, p.fail("option near_cache_always_track=%q is not true or false", v)
		}
		nc.AlwaysTrack, set[3] = on, true
	}
	on := false
	if v, ok := p.params["near_cache"]; ok {
		if on, err = strconv.ParseBool(v); err != nil {
			return redisstore.Options{}, p.fail("option near_cache=%q is not true or false", v)
		}
	}
	if !on && (set[0] || set[1] || set[2] || set[3]) {
		return redisstore.Options{}, p.fail("options near_cache_entries, near_cache_bytes, near_cache_heartbeat and near_cache_always_track need near_cache=true")
	}
	if on {
		ro.NearCache = &nc
	}
	return ro, nil
}

func (p *parsed) pgOptions(ctx context.Context, opts Options) (*pgxpool.Config, pgstore.Options, error) {
	cfg, err := pgxpool.ParseConfig(p.clean)
	if err != nil {
		return nil, pgstore.Options{}, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	po := pgstore.Options{Table: p.params["table"], Logger: opts.Logger}
	if t, ok := p.params["table"]; ok && t == "" {
		return nil, po, p.fail("option table is empty")
	}
	layout, err := p.layout()
	if err != nil {
		return nil, po, err
	}
	if layout != "" {
		po.Layout, po.UserKeyOf = pgstore.LayoutConnectPgSimple, express.UserKey
	}
	if po.CleanupInterval, _, err = p.duration("sweep_interval"); err != nil {
		return nil, po, err
	}
	if opts.NoSweeper {
		po.CleanupInterval = -1
	}
	// Let pgstore judge the table name, on a pool that never connects
	// (pgxpool connects lazily).
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, po, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	defer pool.Close()
	probe, err := pgstore.New(pool, pgstore.Options{Table: po.Table, Layout: po.Layout, CleanupInterval: -1})
	if err != nil {
		return nil, po, fmt.Errorf("storeurl: %s URL: option table: %w: %w", p.scheme, err, ErrBadURL)
	}
	probe.Close()
	return cfg, po, nil
}

func (p *parsed) mysqlOptions(opts Options) (string, mysqlstore.Options, error) {
	mo := mysqlstore.Options{Table: p.params["table"], Logger: opts.Logger}
	dsn, err := mysqlstore.DSNFromURL(p.clean)
	if err != nil {
		return "", mo, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	if t, ok := p.params["table"]; ok && t == "" {
		return "", mo, p.fail("option table is empty")
	}
	if mo.CleanupInterval, _, err = p.duration("sweep_interval"); err != nil {
		return "", mo, err
	}
	if opts.NoSweeper {
		mo.CleanupInterval = -1
	}
	// Let mysqlstore judge the table name; sql.Open does not connect.
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", mo, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	defer db.Close()
	probe, err := mysqlstore.New(db, mysqlstore.Options{Table: mo.Table, CleanupInterval: -1})
	if err != nil {
		return "", mo, fmt.Errorf("storeurl: %s URL: option table: %w: %w", p.scheme, err, ErrBadURL)
	}
	probe.Close()
	return dsn, mo, nil
}

func (p *parsed) mongoOptions(opts Options) (mongostore.Options, error) {
	mo := mongostore.Options{Collection: p.params["collection"], Logger: opts.Logger}
	cs, err := connstring.ParseAndValidate(p.clean)
	if err != nil {
		return mo, fmt.Errorf("storeurl: %s URL: %w: %w", p.scheme, err, ErrBadURL)
	}
	// The driver ignores options it does not know; a misspelt one
	// (colection=, authsource=...) must not be silently dropped.
	if len(cs.UnknownOptions) > 0 {
		names := make([]string, 0, len(cs.UnknownOptions))
		for name := range cs.UnknownOptions {
			names = append(names, name)
		}
		slices.Sort(names)
		return mo, p.fail("unknown option %q (want collection, sweep_interval, layout or a MongoDB connection string option)", names[0])
	}
	if c, ok := p.params["collection"]; ok && (c == "" || strings.ContainsAny(c, "$\x00")) {
		return mo, p.fail("option collection=%q: want a non-empty name without '$'", c)
	}
	layout, err := p.layout()
	if err != nil {
		return mo, err
	}
	if layout != "" {
		mo.Layout, mo.UserKeyOf = mongostore.LayoutConnectMongo, express.UserKey
	}
	if mo.SweepInterval, _, err = p.duration("sweep_interval"); err != nil {
		return mo, err
	}
	if opts.NoSweeper {
		mo.SweepInterval = -1
	}
	mo.NoCreate = opts.NoCreate
	return mo, nil
}

// The layouts of the express-session stores, for the layout option (see
// the package documentation) and Layout.
const (
	LayoutConnectRedis    = "connect-redis"     // redis:// and its variants
	LayoutConnectPgSimple = "connect-pg-simple" // postgres://
	LayoutConnectMongo    = "connect-mongo"     // mongodb://
)

// expressLayout is the express-session store layout each kind of store
// can speak.
var expressLayout = map[storeKind]string{
	kindRedis:    LayoutConnectRedis,
	kindPostgres: LayoutConnectPgSimple,
	kindMongo:    LayoutConnectMongo,
}

// Layout returns the layout rawURL's layout option names: "" for the
// store's own (native) layout, or LayoutConnectRedis,
// LayoutConnectPgSimple or LayoutConnectMongo for the layout of the
// express-session store of that kind. It validates rawURL as Check does.
func Layout(rawURL string) (string, error) {
	p, err := parse(rawURL)
	if err != nil {
		return "", err
	}
	if err := p.redact(p.check()); err != nil {
		return "", err
	}
	return p.layout()
}

// layout reads the layout option: "" (absent or "native") or the
// express-session layout of the URL's kind of store.
func (p *parsed) layout() (string, error) {
	v, ok := p.params["layout"]
	if !ok || v == "native" {
		return "", nil
	}
	want := expressLayout[p.kind]
	if v != want {
		return "", p.fail("option layout=%q: want native or %s", v, want)
	}
	return v, nil
}
