package reliability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// faultWorkers is the number of concurrent sessions under load in the
// fault tests.
const faultWorkers = 8

// durableRedis is a private redis-server that fsyncs its append-only file
// before answering each write (appendfsync always), so that a write it
// acknowledged survives SIGKILL. testenv.StartRedis keeps nothing on disk,
// which would make "nothing acknowledged lost" untestable.
type durableRedis struct {
	addr, bin, dir string
	args           []string
	proc           *testenv.Process
}

func startDurableRedis(t *testing.T, ctx context.Context) *durableRedis {
	t.Helper()
	bin, err := testenv.FindBinary("redis-server", "redis-server")
	if err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &durableRedis{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: t.TempDir()}
	r.args = []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", "",
	}
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.proc.Stop(5 * time.Second) })
	return r
}

func (r *durableRedis) start(ctx context.Context) error {
	p, err := testenv.StartProcess("redis-aof", filepath.Join(r.dir, "redis.log"), r.bin, r.args...)
	if err != nil {
		return err
	}
	r.proc = p
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := testenv.WaitTCP(ctx, r.addr); err != nil {
		p.Kill()
		return fmt.Errorf("%w\n%s", err, p.LogTail())
	}
	return nil
}

// TestRedisKilledUnderLoad kills a durable Redis with SIGKILL under load
// and starts it again: while it is down requests get 503, afterwards every
// session works again and holds every acknowledged write.
func TestRedisKilledUnderLoad(t *testing.T) {
	testenv.Getenv(t, testenv.RedisURLEnv) // the Redis backends are available
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	srv := startDurableRedis(t, ctx)
	store, err := redisstore.NewFromURL(ctx, "redis://"+srv.addr+"?max_retries=1", redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := serve(t, appHandler(newManager(store)))
	tr := newTransport(faultWorkers)
	defer tr.CloseIdleConnections()

	load := startLoad(t, tr, base, loadOptions{workers: faultWorkers})
	for cycle := range 2 {
		load.waitAcks(t, ctx, 200)
		killed := time.Now()
		if err := srv.proc.Kill(); err != nil {
			t.Fatal(err)
		}
		load.waitErrors(t, ctx, faultWorkers)
		if err := srv.start(ctx); err != nil {
			t.Fatal(err)
		}
		up := time.Now()
		rec := load.waitRecovered(t, ctx, up)
		t.Logf("cycle %d: Redis down %v; every session answered again %v after it accepted connections", cycle, up.Sub(killed).Round(time.Millisecond), rec.Round(time.Millisecond))
	}
	load.waitAcks(t, ctx, 100)
	lost := load.verify(t, base, true)
	t.Logf("Redis SIGKILL x2 (appendfsync always): %d acknowledged requests, %s, %d sessions lost an acknowledged write", load.acks(), load.summary(), lost)
}

// TestPostgresRestartedUnderLoad crashes (SIGKILL) and then cleanly
// restarts a private PostgreSQL under load: requests get 503 while it is
// down, every session works again afterwards and holds every acknowledged
// write.
func TestPostgresRestartedUnderLoad(t *testing.T) {
	testenv.Getenv(t, testenv.PostgresURLEnv) // the PostgreSQL backend is available
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartPostgres(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	store, err := pgstore.Open(ctx, srv.URL(), pgstore.Options{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	base := serve(t, appHandler(newManager(store)))
	tr := newTransport(faultWorkers)
	defer tr.CloseIdleConnections()

	load := startLoad(t, tr, base, loadOptions{workers: faultWorkers})
	for _, f := range []struct {
		name string
		stop func() error
	}{
		{"killed (SIGKILL, crash recovery)", srv.Kill},
		{"stopped (fast shutdown)", srv.Stop},
	} {
		load.waitAcks(t, ctx, 200)
		down := time.Now()
		if err := f.stop(); err != nil {
			t.Fatal(err)
		}
		load.waitErrors(t, ctx, faultWorkers)
		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		up := time.Now()
		rec := load.waitRecovered(t, ctx, up)
		t.Logf("PostgreSQL %s: down %v; every session answered again %v after it accepted queries", f.name, up.Sub(down).Round(time.Millisecond), rec.Round(time.Millisecond))
	}
	load.waitAcks(t, ctx, 100)
	lost := load.verify(t, base, true)
	t.Logf("PostgreSQL kill + stop: %d acknowledged requests, %s, %d sessions lost an acknowledged write", load.acks(), load.summary(), lost)
}

// TestSentinelFailoverUnderLoad kills the master of a private Sentinel
// group under load. Requests get 503 until the sentinels promote the
// replica, then every session works again.
//
// Redis replicates asynchronously, so a write the master acknowledged just
// before it died may never reach the replica: with the plain store the
// test counts such losses and does not fail on them. With a store that
// waits for one replica to confirm each save before acknowledging it
// (WAIT), nothing acknowledged may be lost; a fresh replica is started
// for the new master so that saves can be confirmed again.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	testenv.Getenv(t, testenv.RedisSentinelEnv) // the Sentinel backend is available
	for _, waitReplica := range []bool{false, true} {
		name := "async"
		if waitReplica {
			name = "WAIT 1"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			g, err := testenv.StartRedisSentinel(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer g.Stop()
			master, addrs, _ := cutLast(g.Spec(), "@")
			rs, err := redisstore.NewFromURL(ctx, "redis+sentinel://"+addrs+"/"+master+"?max_retries=1", redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var store sessionkit.Store = rs
			if waitReplica {
				store = &replicatedStore{Store: rs}
			}
			m := newManager(store)
			base := serve(t, appHandler(m))
			tr := newTransport(faultWorkers)
			defer tr.CloseIdleConnections()

			load := startLoad(t, tr, base, loadOptions{workers: faultWorkers, lossOK: !waitReplica})
			load.waitAcks(t, ctx, 300)
			killed := time.Now()
			old, err := g.KillMaster(ctx)
			if err != nil {
				t.Fatal(err)
			}
			newMaster, err := g.WaitFailover(ctx, old)
			if err != nil {
				t.Fatal(err)
			}
			promoted := time.Now()
			if waitReplica {
				startReplica(t, ctx, newMaster)
			}
			rec := load.waitRecovered(t, ctx, promoted)
			load.waitAcks(t, ctx, 100)
			lost := load.verify(t, base, waitReplica)
			t.Logf("Sentinel failover (%s): promoted %v after the kill; every session answered again %v later; %d acknowledged requests, %s; %d of %d sessions lost an acknowledged write (%d answers went backwards)",
				name, promoted.Sub(killed).Round(time.Millisecond), rec.Round(time.Millisecond), load.acks(), load.summary(), lost, faultWorkers, load.regressions.Load())
		})
	}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// replicatedStore acknowledges a Save only once a replica has it: after
// the save it writes a marker key and runs WAIT on the same connection.
// The replication stream is ordered, so once the marker is replicated the
// save is too.
type replicatedStore struct {
	*redisstore.Store
}

var errNotReplicated = errors.New("save not confirmed by a replica")

func (s *replicatedStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	v, err := s.Store.Save(ctx, key, rec)
	if err != nil {
		return v, err
	}
	var wait *redis.Cmd
	_, err = s.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "reliability:marker")
		wait = p.Do(ctx, "WAIT", 1, 500)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replicated save %s: %w", key, err)
	}
	if n, err := wait.Int(); err != nil || n < 1 {
		return 0, fmt.Errorf("replicated save %s: %w (WAIT: %d, %v)", key, errNotReplicated, n, err)
	}
	return v, nil
}

// startReplica starts a new redis-server replicating from master.
func startReplica(t *testing.T, ctx context.Context, master string) {
	t.Helper()
	bin, err := testenv.FindBinary("redis-server", "redis-server")
	if err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	host, mport, _ := net.SplitHostPort(master)
	dir := t.TempDir()
	p, err := testenv.StartProcess("redis-replica2", filepath.Join(dir, "redis.log"), bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--replicaof", host, mport, "--daemonize", "no", "--logfile", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	if err := testenv.WaitTCP(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Fatal(err)
	}
}
