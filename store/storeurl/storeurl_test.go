package storeurl_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

const secret = "s3cret-Passw0rd"

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		url  string
		want string // in the message, besides the scheme
	}{
		{"", "empty store URL"},
		{"sessions.db", "no scheme"},
		{"ftp://host", `unknown scheme "ftp"`},
		{"memory://host", "memory:// takes no host or path"},
		{"memory://?max_entries=-1", "max_entries"},
		{"memory://?colour=red", `unknown option "colour"`},
		{"bolt://", "no file path"},
		{"bolt://x.db?bucket=", "bucket is empty"},
		{"bolt://x.db?lock_timeout=soon", "lock_timeout"},
		{"bolt://x.db?prefix=a", `unknown option "prefix"`},
		{"sqlite://", "no file path (want sqlite://relative/file.db or sqlite:///absolute/file.db)"},
		{"sqlite://x.db?table=a-b", "invalid table name"},
		{"sqlite://x.db?table=", "invalid table name"},
		{"sqlite://x.db?busy_timeout=soon", "busy_timeout"},
		{"sqlite://x.db?busy_timeout=off", "busy_timeout must be positive"},
		{"sqlite://x.db?synchronous=extra", "synchronous"},
		{"sqlite://x.db?sweep_interval=1y", "sweep_interval"},
		{"sqlite://x.db?_pragma=foo", `unknown option "_pragma"`},
		{"sqlite://x%00.db", "NUL"},
		{"sqlite://x%zz.db", "bad path"},
		{"redis://:" + secret + "@host:0", "bad port"},
		{"redis://host/a/b", "path must be /db"},
		{"redis://host?prefix=a{", "must not contain"},
		{"redis://host?prefix=", "prefix is empty"},
		{"redis://host?auto_pipeline=maybe", "auto_pipeline"},
		{"redis://host?near_cache=maybe", "near_cache"},
		{"redis://host?near_cache_entries=10", "need near_cache=true"},
		{"redis://host?near_cache=false&near_cache_bytes=1000", "need near_cache=true"},
		{"redis://host?near_cache=true&near_cache_entries=0", "near_cache_entries"},
		{"redis://host?near_cache=true&near_cache_bytes=-5", "near_cache_bytes"},
		{"redis://host?near_cache=true&near_cache_heartbeat=1ms", "near_cache_heartbeat"},
		{"redis://host?near_cache=true&near_cache_heartbeat=soon", "near_cache_heartbeat=\"soon\": want a duration of at least 10ms, such as 500ms"},
		// The heartbeat cannot be turned off, and the message does not
		// suggest it.
		{"redis://host?near_cache=true&near_cache_heartbeat=off", "near_cache_heartbeat=\"off\": want a duration of at least 10ms, such as 500ms"},
		{"redis://host?near_cache=true&near_cache_heartbeat=-1s", "want a duration of at least 10ms"},
		{"redis://host?near_cache=true&near_cache_always_track=often", "near_cache_always_track=\"often\" is not true or false"},
		{"redis://host?near_cache_always_track=true", "need near_cache=true"},
		{"redis://h1,h2", "names one host"},
		{"redis+sentinel://:" + secret + "@h1,h2", "master"},
		{"redis+cluster://h1/3", "no path"},
		{"redis://host?table=x", `unknown option "table"`},
		{"postgres://u:" + secret + "@host:notaport/db", "postgres URL"},
		{"postgres://u@host/db?table=1x", "invalid table name"},
		{"postgres://u@host/db?table=a.b.c", "invalid table name"},
		{"postgres://u@host/db?sweep_interval=1y", "sweep_interval"},
		{"mysql://u:" + secret + "@host/db?table=a-b", "invalid table name"},
		{"mysql://u:" + secret + "@host/db?parseTime=maybe", "mysql URL"},
		{"mongodb://u:" + secret + "@host/db?collection=a$b", "collection"},
		{"mongodb://u:" + secret + "@/db", "mongodb URL"},
		// Passwords with an unescaped '/', '?' or '#' (which should be
		// percent-encoded) are hidden all the same.
		{"redis://:" + secret + "/" + secret + "@host:1/0", "redis URL"},
		{"redis://u:" + secret + "?" + secret + "@host:1/0", "redis URL"},
		{"postgres://u:" + secret + "/" + secret + "@host/db", "postgres URL"},
		{"mysql://u:" + secret + "/" + secret + "@host/db", "mysql URL"},
		{"mongodb://u:" + secret + "/" + secret + "@host/db", "mongodb URL"},
		{"mongodb://u:" + secret + "@host/db?colection=s", `unknown option "colection"`},
		{"mongodb://host/db?authSource=admin&bogus=1", `unknown option "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := storeurl.Check(tt.url)
			if !errors.Is(err, storeurl.ErrBadURL) {
				t.Fatalf("Check = %v, want ErrBadURL", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if scheme := storeurl.Scheme(tt.url); scheme != "" && !strings.Contains(msg, scheme) {
				t.Errorf("error %q does not name the scheme %s", msg, scheme)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows the password", msg)
			}
			// Open fails the same way without connecting.
			if _, err := storeurl.Open(context.Background(), tt.url, storeurl.Options{}); !errors.Is(err, storeurl.ErrBadURL) {
				t.Errorf("Open = %v, want ErrBadURL", err)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	for _, u := range []string{
		"memory://",
		"memory://?max_entries=100&max_bytes=1000000&sweep_interval=off",
		"bolt://sessions.db",
		"bolt:///var/lib/app/sessions%20x.db?bucket=b&lock_timeout=2s&sweep_interval=5m",
		"sqlite://sessions.db",
		"sqlite:///var/lib/app/sessions%20x.db?table=web_sessions&busy_timeout=2s&synchronous=normal&sweep_interval=off",
		"SQLite://data/s.db?synchronous=FULL",
		"redis://127.0.0.1:6379/0?prefix=app:&dial_timeout=1s",
		"rediss://user:" + secret + "@cache.internal/2",
		"redis+sentinel://s1,s2:26380/mymaster/1?prefix=x:&sentinel_password=" + secret,
		"rediss+cluster://n1:7000,n2:7000?pool_size=10&auto_pipeline=true",
		"redis://h?near_cache=true&near_cache_entries=5000&near_cache_bytes=1048576&near_cache_heartbeat=250ms",
		"redis://h?near_cache=true&near_cache_always_track=true",
		"postgres://app:" + secret + "@db:5432/app?sslmode=disable&table=auth.sessions&sweep_interval=1m",
		"postgresql://db/app?pool_max_conns=4",
		"mysql://app:" + secret + "@db:3306/app?table=sessions&parseTime=true",
		"mariadb://app@db/app",
		"mongodb://app:" + secret + "@db:27017/app?collection=s&authSource=admin",
	} {
		if err := storeurl.Check(u); err != nil {
			t.Errorf("Check(%q) = %v", u, err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://:" + secret + "@h:1/0", "redis://:xxxxx@h:1/0"},
		{"postgres://app:" + secret + "@db/app?table=t", "postgres://app:xxxxx@db/app?table=t"},
		{"redis+sentinel://h/m?sentinel_password=" + secret + "&prefix=p", "redis+sentinel://h/m?sentinel_password=xxxxx&prefix=p"},
		{"mysql://app@db/app", "mysql://app@db/app"},
		{"redis://u:" + secret + "/" + secret + "@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"postgres://u:12/" + secret + "@h/db?sslmode=disable", "postgres://u:xxxxx@h/db?sslmode=disable"},
		{"mysql://u:" + secret + "#" + secret + "@h/db", "mysql://u:xxxxx@h/db"},
		{"redis://h:6379/0?client_name=a@b", "redis://h:6379/0?client_name=a@b"},
		{"bolt://dir@x/file.db", "bolt://dir@x/file.db"},
		{"sqlite://dir:x@y/file.db", "sqlite://dir:x@y/file.db"},
	}
	for _, tt := range tests {
		if got := storeurl.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// roundTrip saves, loads and deletes a record through s, and checks after
// the test (once the test has closed s) that closing it again is harmless.
func roundTrip(t *testing.T, s sessionkit.Store) {
	t.Helper()
	t.Cleanup(func() {
		for range 2 {
			if err := s.(storeurl.Store).Close(); err != nil {
				t.Errorf("%T: Close again = %v, want nil", s, err)
			}
		}
	})
	ctx := context.Background()
	rec := sessionkit.Record{Data: []byte(`{"values":{"a":1}}`), Expiry: time.Now().Add(time.Hour).Truncate(time.Millisecond), UserKey: "u1"}
	if _, err := s.Save(ctx, "storeurl-test", rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "storeurl-test")
	if err != nil || string(got.Data) != string(rec.Data) || got.UserKey != "u1" || !got.Expiry.Equal(rec.Expiry) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if err := s.Delete(ctx, "storeurl-test"); err != nil {
		t.Fatal(err)
	}
}

func unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func TestOpenMemory(t *testing.T) {
	s, err := storeurl.Open(context.Background(), "memory://?max_entries=10", storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*memstore.Store); !ok {
		t.Fatalf("Open returned %T", s)
	}
	roundTrip(t, s)
}

func TestOpenBolt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub dir", "s.db")
	u := "bolt://" + strings.ReplaceAll(path, " ", "%20") + "?bucket=mine"

	if _, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open with NoCreate on a missing file = %v, want fs.ErrNotExist", err)
	}
	s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	bs, ok := s.(*boltstore.Store)
	if !ok {
		t.Fatalf("Open returned %T", s)
	}
	if bs.DB().Path() != path {
		t.Errorf("file %s, want %s", bs.DB().Path(), path)
	}
	roundTrip(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The bucket option was used.
	s2, err := boltstore.Open(path, boltstore.WithBucket("mine"))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub dir", "s?.db")
	u := "sqlite://" + url.PathEscape(path) + "?table=mine&synchronous=normal"

	if _, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open with NoCreate on a missing file = %v, want fs.ErrNotExist", err)
	}
	s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	ss, ok := s.(*sqlitestore.Store)
	if !ok {
		t.Fatalf("Open returned %T", s)
	}
	if ss.Path() != path || ss.Table() != "mine" {
		t.Errorf("file %s table %s, want %s and mine", ss.Path(), ss.Table(), path)
	}
	roundTrip(t, s)
	if _, err := s.Save(context.Background(), "kept", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A second store on the same file while the first is open (another
	// process would do the same), without creating anything.
	s2, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true, NoSweeper: true})
	if err != nil {
		t.Fatalf("second Open while the first is open: %v", err)
	}
	if rec, err := s2.Load(context.Background(), "kept"); err != nil || string(rec.Data) != "x" {
		t.Fatalf("Load through the second store = %q, %v", rec.Data, err)
	}
	s2.Close()
	// NoCreate creates no table either.
	s3, err := storeurl.Open(context.Background(), "sqlite://"+url.PathEscape(path)+"?table=other", storeurl.Options{NoCreate: true, NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := s3.Load(context.Background(), "kept"); !errors.Is(err, sqlitestore.ErrNoTable) {
		t.Fatalf("Load from a table NoCreate did not create: %v, want ErrNoTable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRedis(t *testing.T) {
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	prefix := unique("storeurl") + ":"
	s, err := storeurl.Open(context.Background(), base+"?prefix="+url.QueryEscape(prefix), storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs, ok := s.(*redisstore.Store)
	if !ok {
		t.Fatalf("Open returned %T", s)
	}
	if got := rs.RecordKey("k"); got != prefix+"{k}" {
		t.Errorf("record key %q: the prefix option was not used", got)
	}
	roundTrip(t, s)
}

// TestOpenRedisNearCache opens a store with a near cache and checks that
// its bound applies.
func TestOpenRedisNearCache(t *testing.T) {
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx := context.Background()
	s, err := storeurl.Open(ctx, base+"?near_cache=true&near_cache_entries=64&near_cache_heartbeat=100ms&prefix="+unique("su")+":", storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := s.(*redisstore.Store)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, ok := rs.NearCacheStats()
		if !ok {
			t.Fatal("near_cache=true: the store has no near cache")
		}
		if st.Tracking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not tracking after 20s: %+v", st)
		}
	}
	roundTrip(t, s)
	for i := range 100 {
		if _, err := s.Save(ctx, fmt.Sprint("k", i), sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for i := range 100 {
			if _, err := s.Load(ctx, fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, _ := rs.NearCacheStats()
	if st.Entries > 64 || st.Evictions == 0 {
		t.Errorf("with near_cache_entries=64, after loading 100 records twice: %+v", st)
	}
	for range 2 {
		if _, err := s.Load(ctx, "k99"); err != nil {
			t.Fatal(err)
		}
	}
	if st2, _ := rs.NearCacheStats(); st2.Hits <= st.Hits {
		t.Errorf("a record just loaded was not served from the cache: %+v", st2)
	}
}

func TestOpenRedisSentinelAndCluster(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		spec := testenv.Getenv(t, testenv.RedisSentinelEnv) // master@host:port,...
		master, addrs, _ := strings.Cut(spec, "@")
		s, err := storeurl.Open(context.Background(), "redis+sentinel://"+addrs+"/"+master+"?prefix="+unique("su")+":", storeurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		roundTrip(t, s)
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := testenv.Getenv(t, testenv.RedisClusterEnv)
		s, err := storeurl.Open(context.Background(), "redis+cluster://"+addrs+"?auto_pipeline=true&prefix="+unique("su")+":", storeurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		roundTrip(t, s)
	})
}

func TestOpenPostgres(t *testing.T) {
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := unique("storeurl_")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u := base + sep + "table=" + table

	// NoCreate: the table is not created, and operations say so.
	s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true, NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), "k"); !errors.Is(err, pgstore.ErrNoTable) {
		t.Errorf("Load without a table = %v, want ErrNoTable", err)
	}
	s.Close()

	s, err = storeurl.Open(context.Background(), u, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps := s.(*pgstore.Store)
	defer ps.DropTable(context.Background())
	if ps.Table() != table {
		t.Errorf("table %q, want %q", ps.Table(), table)
	}
	roundTrip(t, s)
}

func TestOpenMySQL(t *testing.T) {
	dsn := testenv.Getenv(t, testenv.MySQLDSNEnv)
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
	table := unique("storeurl_")
	s, err := storeurl.Open(context.Background(), u.String()+"?table="+table, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms := s.(*mysqlstore.Store)
	defer ms.DropTable(context.Background())
	roundTrip(t, s)
}

func TestOpenMongo(t *testing.T) {
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	coll := unique("storeurl_")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	s, err := storeurl.Open(context.Background(), base+sep+"collection="+coll, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms := s.(*mongostore.Store)
	defer ms.Collection().Drop(context.Background())
	if ms.Collection().Name() != coll {
		t.Errorf("collection %q, want %q", ms.Collection().Name(), coll)
	}
	roundTrip(t, s)
}

func TestOpenUnreachableHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, u := range []string{
		"redis://:" + secret + "@127.0.0.1:1/0?max_retries=-1",
		"postgres://app:" + secret + "@127.0.0.1:1/app",
		"mysql://app:" + secret + "@127.0.0.1:1/app",
	} {
		_, err := storeurl.Open(ctx, u, storeurl.Options{})
		if err == nil || errors.Is(err, storeurl.ErrBadURL) {
			t.Errorf("Open(%s) = %v, want a connection error", storeurl.Redact(u), err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), storeurl.Scheme(u)) {
			t.Errorf("error does not name the scheme: %v", err)
		}
	}
}

// TestOpenRedisNearCacheAlwaysTrack checks that near_cache_always_track
// reaches the store: read-modify-write traffic (no load ever a hit) makes
// the near cache go idle after its 1,024-load window, unless the option
// is set.
func TestOpenRedisNearCacheAlwaysTrack(t *testing.T) {
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, always := range []bool{false, true} {
		t.Run(fmt.Sprint("always_track=", always), func(t *testing.T) {
			ctx := t.Context()
			u := base + "?near_cache=true&prefix=" + unique("su") + ":"
			if always {
				u += "&near_cache_always_track=true"
			}
			s, err := storeurl.Open(ctx, u, storeurl.Options{})
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
					t.Fatal("not tracking after 20s")
				}
			}
			// Loads made while the cache is not tracking (a heartbeat
			// late) do not count toward the window: go on until idle, or
			// well past the window.
			exp := time.Now().Add(time.Hour)
			for i := 0; i < 4*1024; i++ {
				key := fmt.Sprint("k", i%50)
				rec, err := s.Load(ctx, key)
				if errors.Is(err, sessionkit.ErrNotFound) {
					rec, err = sessionkit.Record{}, nil
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Version: rec.Version, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				if st, _ := rs.NearCacheStats(); st.Idle {
					break
				}
			}
			if st, _ := rs.NearCacheStats(); st.Idle == always {
				t.Errorf("after read-modify-write loads: Idle %v, want %v (%+v)", st.Idle, !always, st)
			}
		})
	}
}

// TestOpenBoltLockBoundedByContext: Open waits for another process's lock
// on a bolt file until lock_timeout or ctx's deadline, whichever comes
// first, as it bounds connecting to a server by ctx. (It waited the whole
// lock_timeout, so the CLI's --timeout did not bound it.)
func TestOpenBoltLockBoundedByContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	holder, err := boltstore.Open(path, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := storeurl.Open(ctx, "bolt://"+path+"?lock_timeout=1m", storeurl.Options{NoSweeper: true})
	if err == nil {
		s.Close()
		t.Fatal("Open of a locked file succeeded")
	}
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("Open of a locked file = %v, want ErrLocked", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Open waited %v for the lock with a 100ms context and lock_timeout=1m", took)
	}
}
