package storeurl_test

// Outside-in acceptance checks of storeurl, written from its package
// documentation: each test names the sentence it pins.

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// sweepers counts the background sweeper goroutines of every store in
// the process (they all run sessionkit's one sweeper loop).
func sweepers(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "sessionkit/internal/sweeper.") { // run, or the go statement's wrapper before it runs
			n++
		}
	}
	return n
}

// "Every error begins with "storeurl:" and the scheme (... when the
// scheme is missing or unknown, "storeurl:" and what is wrong with it)".
func TestOutsiderErrorsBeginWithScheme(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{"", "sessions.db", "ftp://host"} {
		err := storeurl.Check(u)
		if err == nil || !strings.HasPrefix(err.Error(), "storeurl: ") || !strings.Contains(err.Error(), "scheme") && !strings.Contains(err.Error(), "empty") {
			t.Errorf("Check(%q) = %v, want an error beginning \"storeurl: \" that says what is wrong", u, err)
		}
	}
	for _, u := range []string{
		"mariadb://u@host/db?table=",
		"postgresql://u@host/db?table=1x",
		"SQLite://x.db?synchronous=extra",
		"rediss+cluster://h1/3",
		"memory://?max_entries=0",
		"bolt://x.db?lock_timeout=0s",
		"sqlite://x.db?table=a-b",
		"redis://host?prefix=",
		"postgres://u@host/db?sweep_interval=soon",
		"mysql://u@host/db?table=a.b.c",
		"mongodb://host/db?collection=",
		"postgres://u:" + secret + "@" + dead + "/db?connect_timeout=2",
		"mysql://u:" + secret + "@" + dead + "/db?timeout=2s",
	} {
		_, err := storeurl.Open(ctx, u, storeurl.Options{})
		if err == nil {
			t.Errorf("Open(%s) succeeded", storeurl.Redact(u))
			continue
		}
		want := "storeurl: " + storeurl.Scheme(u)
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open(%s) error %q does not begin with %q", storeurl.Redact(u), err, want)
		}
	}
}

// "memory:// — ... Each Open returns a new, empty store", and max_bytes:
// "one record over its shard's share is refused with ErrTooLarge: a 32nd
// of max_bytes, but at least 1 MiB, and all of it under 2 MiB".
func TestOutsiderMemory(t *testing.T) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	a, err := storeurl.Open(ctx, "memory://", storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	b, err := storeurl.Open(ctx, "memory://", storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Load(ctx, "k"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("second memory:// store Load = %v, want ErrNotFound (a new, empty store)", err)
	}

	const mib = 1 << 20
	for _, tc := range []struct {
		maxBytes      string
		fits, refused int // data bytes
	}{
		{"1572864", 1_500_000, 1_600_000},      // 1.5 MiB: all of it
		{"4194304", mib - 4096, mib + 1},       // 4 MiB: at least 1 MiB
		{"134217728", 4*mib - 4096, 4*mib + 1}, // 128 MiB: a 32nd
	} {
		s, err := storeurl.Open(ctx, "memory://?sweep_interval=off&max_bytes="+tc.maxBytes, storeurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Save(ctx, "fits", sessionkit.Record{Data: make([]byte, tc.fits), Expiry: exp}); err != nil {
			t.Errorf("max_bytes=%s: %d-byte record: %v", tc.maxBytes, tc.fits, err)
		}
		if _, err := s.Save(ctx, "big", sessionkit.Record{Data: make([]byte, tc.refused), Expiry: exp}); !errors.Is(err, sessionkit.ErrTooLarge) {
			t.Errorf("max_bytes=%s: %d-byte record: %v, want ErrTooLarge", tc.maxBytes, tc.refused, err)
		}
		s.Close()
	}
}

// "sweep_interval=off (or 0) turns the background sweeper off.
// Options.NoSweeper turns it off whatever the URL says", and Close
// "releases what Open created: ... background sweepers".
func TestOutsiderSweeperSwitch(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url       string
		noSweeper bool
		want      int
	}{
		{"memory://", false, 1},
		{"memory://?sweep_interval=1h", false, 1},
		{"memory://?sweep_interval=off", false, 0},
		{"memory://?sweep_interval=0", false, 0},
		{"memory://?sweep_interval=1m", true, 0},
		{"bolt://" + filepath.Join(dir, "a.db"), false, 1},
		{"bolt://" + filepath.Join(dir, "b.db") + "?sweep_interval=0", false, 0},
		{"bolt://" + filepath.Join(dir, "c.db") + "?sweep_interval=1m", true, 0},
		{"sqlite://" + filepath.Join(dir, "a.sqlite"), false, 1},
		{"sqlite://" + filepath.Join(dir, "b.sqlite") + "?sweep_interval=off", false, 0},
		{"sqlite://" + filepath.Join(dir, "c.sqlite") + "?sweep_interval=0", false, 0},
		{"sqlite://" + filepath.Join(dir, "d.sqlite") + "?sweep_interval=5m", true, 0},
	} {
		before := sweepers(t)
		s, err := storeurl.Open(context.Background(), tc.url, storeurl.Options{NoSweeper: tc.noSweeper})
		if err != nil {
			t.Fatal(err)
		}
		if got := sweepers(t) - before; got != tc.want {
			t.Errorf("Open(%s, NoSweeper %v): %d sweepers started, want %d", tc.url, tc.noSweeper, got, tc.want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := sweepers(t) - before; got != 0 {
			t.Errorf("Open(%s): %d sweepers left after Close", tc.url, got)
		}
	}
}

// NoCreate: "a bolt:// or sqlite:// file is not created, nor a bolt
// file's bucket (Open fails with boltstore.ErrNoBucket)" — nor the
// directories the path names.
func TestOutsiderNoCreateFiles(t *testing.T) {
	dir := t.TempDir()
	for _, scheme := range []string{"bolt", "sqlite"} {
		path := filepath.Join(dir, scheme, "sub", "s.db")
		_, err := storeurl.Open(context.Background(), scheme+"://"+url.PathEscape(path), storeurl.Options{NoCreate: true})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: Open of a missing file with NoCreate = %v, want fs.ErrNotExist", scheme, err)
		}
		if _, err := os.Stat(filepath.Join(dir, scheme)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: Open with NoCreate created %s (%v)", scheme, filepath.Join(dir, scheme), err)
		}
	}
	path := filepath.Join(dir, "b.db")
	s, err := storeurl.Open(context.Background(), "bolt://"+path, storeurl.Options{NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := storeurl.Open(context.Background(), "bolt://"+path+"?bucket=other", storeurl.Options{NoCreate: true}); !errors.Is(err, boltstore.ErrNoBucket) {
		t.Errorf("Open of a file without the bucket, NoCreate = %v, want ErrNoBucket", err)
	}
	if s, err := storeurl.Open(context.Background(), "bolt://"+path, storeurl.Options{NoCreate: true, NoSweeper: true}); err != nil {
		t.Errorf("Open of a file with the bucket, NoCreate = %v", err)
	} else {
		s.Close()
	}
}

// NoCreate on the servers: "the SQL stores' table ... is not created
// (operations then fail with the store's ErrNoTable), nor a MongoDB
// collection (Open fails with mongostore.ErrNoCollection; an existing
// collection still gets its indexes)"; and the express layouts' default
// table: "table default "session"" for layout=connect-pg-simple.
func TestOutsiderNoCreateServers(t *testing.T) {
	ctx := context.Background()
	t.Run("mysql", func(t *testing.T) {
		dsn := testenv.Getenv(t, testenv.MySQLDSNEnv)
		u := mysqlURL(t, dsn) + "?table=" + unique("out_")
		s, err := storeurl.Open(ctx, u, storeurl.Options{NoCreate: true, NoSweeper: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Load(ctx, "k"); !errors.Is(err, mysqlstore.ErrNoTable) {
			t.Errorf("Load = %v, want ErrNoTable", err)
		}
	})
	t.Run("postgres connect-pg-simple", func(t *testing.T) {
		base := testenv.Getenv(t, testenv.PostgresURLEnv)
		s, err := storeurl.Open(ctx, withQuery(base, "layout=connect-pg-simple"), storeurl.Options{NoCreate: true, NoSweeper: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := s.(*pgstore.Store).Table(); got != pgstore.DefaultConnectPgSimpleTable {
			t.Errorf("table %q, want %q", got, pgstore.DefaultConnectPgSimpleTable)
		}
	})
	t.Run("mongodb", func(t *testing.T) {
		base := testenv.Getenv(t, testenv.MongoURLEnv)
		coll := unique("out_")
		u := withQuery(base, "collection="+coll)
		if _, err := storeurl.Open(ctx, u, storeurl.Options{NoCreate: true}); !errors.Is(err, mongostore.ErrNoCollection) {
			t.Fatalf("Open of a missing collection with NoCreate = %v, want ErrNoCollection", err)
		}
		s, err := storeurl.Open(ctx, u, storeurl.Options{NoSweeper: true})
		if err != nil {
			t.Fatal(err)
		}
		ms := s.(*mongostore.Store)
		defer ms.Collection().Drop(context.Background())
		if ms.Collection().Name() != coll {
			t.Fatalf("collection %q, want %q", ms.Collection().Name(), coll)
		}
		s.Close()
		s, err = storeurl.Open(ctx, u, storeurl.Options{NoCreate: true, NoSweeper: true})
		if err != nil {
			t.Fatalf("Open of an existing collection with NoCreate: %v", err)
		}
		defer s.Close()
		roundTrip(t, s)
	})
}

func withQuery(base, q string) string {
	if strings.Contains(base, "?") {
		return base + "&" + q
	}
	return base + "?" + q
}

// mysqlURL turns the test server's DSN into a mysql:// URL.
func mysqlURL(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// "bolt://sessions.db is relative to the working directory,
// bolt:///var/lib/app/sessions.db is absolute; the path is
// percent-decoded", and sqlite:// is "spelled like bolt://".
func TestOutsiderFilePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		url, file string
	}{
		{"bolt://sessions.db", filepath.Join(dir, "sessions.db")},
		{"bolt://data/sub/s%20x.db", filepath.Join(dir, "data", "sub", "s x.db")},
		{"bolt://" + url.PathEscape(filepath.Join(dir, "abs", "a b.db")), filepath.Join(dir, "abs", "a b.db")},
		{"sqlite://sessions.sqlite", filepath.Join(dir, "sessions.sqlite")},
		{"sqlite://data/sub/s%20x.sqlite", filepath.Join(dir, "data", "sub", "s x.sqlite")},
		{"sqlite://" + url.PathEscape(filepath.Join(dir, "abs", "a b.sqlite")), filepath.Join(dir, "abs", "a b.sqlite")},
	} {
		s, err := storeurl.Open(context.Background(), tc.url, storeurl.Options{NoSweeper: true})
		if err != nil {
			t.Errorf("Open(%s): %v", tc.url, err)
			continue
		}
		s.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("Open(%s) did not make %s: %v", tc.url, tc.file, err)
		}
	}
}

// mongodb://: "the path names the database (default "sessionkit")".
func TestOutsiderMongoDatabase(t *testing.T) {
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{{"", "sessionkit"}, {"/", "sessionkit"}, {"/out_app", "out_app"}} {
		u.Path = tc.path
		coll := unique("out_")
		s, err := storeurl.Open(context.Background(), withQuery(u.String(), "collection="+coll), storeurl.Options{NoSweeper: true})
		if err != nil {
			t.Fatal(err)
		}
		ms := s.(*mongostore.Store)
		if got := ms.Collection().Database().Name(); got != tc.want {
			t.Errorf("path %q: database %q, want %q", tc.path, got, tc.want)
		}
		ms.Collection().Drop(context.Background())
		s.Close()
	}
}

// TestOutsiderRedisNearCacheBytes pins "near_cache_entries,
// near_cache_bytes, near_cache_heartbeat: its bounds and heartbeat
// (redisstore.NearCache's MaxEntries, MaxBytes, Heartbeat)" for the byte
// bound (TestOpenRedisNearCache checks the entry bound): records of 1 KB
// loaded through a store opened with near_cache_bytes=32768 never take
// more than 32 KiB of cache, and the cache evicts to stay within it.
func TestOutsiderRedisNearCacheBytes(t *testing.T) {
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx := t.Context()
	const maxBytes = 32 << 10
	s, err := storeurl.Open(ctx, base+"?near_cache=true&near_cache_bytes="+strconv.Itoa(maxBytes)+"&prefix="+unique("su")+":", storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := s.(*redisstore.Store)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st, _ := rs.NearCacheStats(); st.Tracking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("near_cache=true: not tracking after 20s")
		}
	}
	data := []byte(strings.Repeat("x", 1000))
	for i := range 100 {
		if _, err := s.Save(ctx, "k"+strconv.Itoa(i), sessionkit.Record{Data: data, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// Two passes: the saves' own invalidations may drop what the first
	// pass cached.
	for range 2 {
		for i := range 100 {
			if _, err := s.Load(ctx, "k"+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
			if st, _ := rs.NearCacheStats(); st.Bytes > maxBytes {
				t.Fatalf("near_cache_bytes=%d, but the cache holds %d bytes: %+v", maxBytes, st.Bytes, st)
			}
		}
	}
	if st, _ := rs.NearCacheStats(); st.Entries == 0 || st.Evictions == 0 {
		t.Errorf("after loading 100 KB of records twice with near_cache_bytes=%d: %+v", maxBytes, st)
	}
}
