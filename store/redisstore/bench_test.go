package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The middleware benchmarks compare sessionkit.Manager + redisstore with a
// ceiling: a bare handler that sends exactly the same Redis commands with
// go-redis directly (HMGET to read; HMGET and the same CAS script to
// read-modify-write) and does nothing else a session library would; and
// redisstore with its near cache with sessionkit over memstore.
//
//	go run ./internal/testenv/cmd/withbackends -only redis -- \
//	    go test -run '^$' -bench Middleware -benchtime 2s ./store/redisstore/

func benchManager(b *testing.B, client redis.UniversalClient) (*sessionkit.Manager, *redisstore.Store) {
	return benchManagerWith(b, client, redisstore.Options{})
}

func benchManagerWith(b *testing.B, client redis.UniversalClient, opts redisstore.Options) (*sessionkit.Manager, *redisstore.Store) {
	s := newStoreWith(b, client, opts)
	m := sessionkit.New(s)
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return m, s
}

// sessionCookie creates a session holding n=0 through h and returns its
// cookie.
func sessionCookie(b *testing.B, h http.Handler) *http.Cookie {
	r := httptest.NewRequest("GET", "/write", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	cs := w.Result().Cookies()
	if w.Code != 200 || len(cs) != 1 {
		b.Fatalf("creating a session: %d, cookies %v", w.Code, cs)
	}
	return cs[0]
}

func sessionkitHandler(m *sessionkit.Manager) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "n")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if r.URL.Path == "/write" {
			n++
			if err := s.Set("n", n); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		io.WriteString(w, strconv.Itoa(n))
	}))
}

// ceilingHandler does the same Redis work as sessionkitHandler with a
// record layout it owns: the cookie value is the record key.
func ceilingHandler(client redis.Cmdable, s *redisstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("id")
		if err != nil {
			http.Error(w, "no cookie", 400)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		key := s.RecordKey(ck.Value)
		vals, err := client.HMGet(ctx, key, "d", "v", "e", "u").Result()
		if err != nil || vals[1] == nil {
			http.Error(w, fmt.Sprint("load: ", err), http.StatusServiceUnavailable)
			return
		}
		var data struct{ N int }
		if err := json.Unmarshal([]byte(vals[0].(string)), &data); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if r.URL.Path == "/write" {
			data.N++
			enc, _ := json.Marshal(data)
			exp := time.Now().Add(time.Hour).UnixMilli()
			res, err := redisstore.SaveScript.Run(ctx, client, []string{key, s.ReleasedKey(ck.Value)}, vals[1], enc, exp, "", "").Slice()
			if err != nil || res[0].(int64) != 1 {
				http.Error(w, fmt.Sprint("save: ", err, res), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, strconv.Itoa(data.N))
	})
}

func BenchmarkMiddleware(b *testing.B) {
	client := newClient(b, testenv.Getenv(b, testenv.RedisURLEnv))
	for _, path := range []string{"/read", "/write"} {
		name := map[string]string{"/read": "ReadOnly", "/write": "ReadModifyWrite"}[path]
		b.Run(name+"/sessionkit", func(b *testing.B) {
			m, _ := benchManager(b, client)
			h := sessionkitHandler(m)
			runParallel(b, client, h, path, func() *http.Cookie { return sessionCookie(b, h) })
		})
		b.Run(name+"/nearcache", func(b *testing.B) {
			m, _ := benchManagerWith(b, client, redisstore.Options{NearCache: &redisstore.NearCache{}})
			h := sessionkitHandler(m)
			runParallel(b, client, h, path, func() *http.Cookie { return sessionCookie(b, h) })
		})
		b.Run(name+"/memstore", func(b *testing.B) {
			st := memstore.New(memstore.Options{})
			defer st.Close()
			m := sessionkit.New(st)
			m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			h := sessionkitHandler(m)
			runParallel(b, client, h, path, func() *http.Cookie { return sessionCookie(b, h) })
		})
		b.Run(name+"/ceiling", func(b *testing.B) {
			_, s := benchManager(b, client)
			h := ceilingHandler(client, s)
			var seq int
			runParallel(b, client, h, path, func() *http.Cookie {
				seq++
				id := fmt.Sprintf("ceiling-%d", seq)
				v, err := s.Save(b.Context(), id, sessionkit.Record{Data: []byte(`{"N":0}`), Expiry: time.Now().Add(time.Hour)})
				if err != nil || v == 0 {
					b.Fatal(err)
				}
				return &http.Cookie{Name: "id", Value: id}
			})
		})
	}
}

// BenchmarkRMW is bench-compare's rmw workload in process: 32 goroutines
// (its -workers), each with its own session, read a value and write it
// back, through sessionkit and through the ceiling handler, each on a
// plain client and through go-redis's AutoPipeliner (Options.AutoPipeline,
// the ceiling's redis-bare-ap). The handler is called directly, so the
// CPU columns are what the session library and go-redis cost, without
// net/http's server; each request's context is, as there, a context of
// its own that ends when the request does.
//
//	go run ./internal/testenv/cmd/withbackends -only redis -- \
//	    go test -run '^$' -bench RMW -benchtime 20000x -count 6 ./store/redisstore/
func BenchmarkRMW(b *testing.B) {
	client := newClient(b, testenv.Getenv(b, testenv.RedisURLEnv))
	for _, ap := range []bool{false, true} {
		suffix := ""
		if ap {
			suffix = "-ap"
		}
		b.Run("sessionkit"+suffix, func(b *testing.B) {
			m, _ := benchManagerWith(b, client, redisstore.Options{AutoPipeline: ap})
			h := sessionkitHandler(m)
			runParallelN(b, client, h, "/write", 16, true, func() *http.Cookie { return sessionCookie(b, h) })
		})
		b.Run("ceiling"+suffix, func(b *testing.B) {
			_, s := benchManager(b, client)
			var cmds redis.Cmdable = client
			if ap {
				p, err := client.AsyncAutoPipeline()
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				cmds = p
			}
			h := ceilingHandler(cmds, s)
			var seq int
			runParallelN(b, client, h, "/write", 16, true, func() *http.Cookie {
				seq++
				id := fmt.Sprintf("ceiling-%d", seq)
				v, err := s.Save(b.Context(), id, sessionkit.Record{Data: []byte(`{"N":0}`), Expiry: time.Now().Add(time.Hour)})
				if err != nil || v == 0 {
					b.Fatal(err)
				}
				return &http.Cookie{Name: "id", Value: id}
			})
		})
	}
}

// runParallel serves path from GOMAXPROCS goroutines, each with its own
// session, so read-modify-write requests never conflict.
func runParallel(b *testing.B, client redis.UniversalClient, h http.Handler, path string, newSession func() *http.Cookie) {
	runParallelN(b, client, h, path, 1, false, newSession)
}

// runParallelN is runParallel with parallelism × GOMAXPROCS goroutines
// (at most 64), and, if cancelable, each request under a context of its
// own that is canceled when it has been served (as net/http's server
// does) instead of context.Background().
//
// Besides ns/op it reports the CPU time each request cost in this process
// (client-cpu-ns/op) and in redis-server (redis-cpu-ns/op). On a machine
// where client and server share the cores, throughput is bounded by their
// sum, and CPU time is far less disturbed than wall time by other work on
// a busy machine.
func runParallelN(b *testing.B, client redis.UniversalClient, h http.Handler, path string, parallelism int, cancelable bool, newSession func() *http.Cookie) {
	cookies := make(chan *http.Cookie, 64)
	for range cap(cookies) {
		cookies <- newSession()
	}
	b.ReportAllocs()
	selfBefore, redisBefore := selfCPU(), redisCPU(b, client)
	b.ResetTimer()
	defer func() {
		b.StopTimer()
		n := float64(b.N)
		b.ReportMetric(float64(selfCPU()-selfBefore)/n, "client-cpu-ns/op")
		b.ReportMetric(float64(redisCPU(b, client)-redisBefore)/n, "redis-cpu-ns/op")
	}()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		ck := <-cookies
		for pb.Next() {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if cancelable {
				ctx, cancel = context.WithCancel(ctx)
			}
			r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
			r.AddCookie(ck)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			cancel()
			if w.Code != 200 {
				b.Errorf("%s: %d %s", path, w.Code, w.Body)
				return
			}
		}
	})
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU returns the CPU time the Redis server has used (INFO cpu).
func redisCPU(b *testing.B, client redis.UniversalClient) time.Duration {
	info, err := client.Info(b.Context(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, line := range strings.Split(info, "\r\n") {
		name, val, _ := strings.Cut(line, ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			secs, err := strconv.ParseFloat(val, 64)
			if err != nil {
				b.Fatalf("INFO cpu: %q", line)
			}
			total += time.Duration(secs * float64(time.Second))
		}
	}
	return total
}
