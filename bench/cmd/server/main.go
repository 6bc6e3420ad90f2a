// Command server is one HTTP server process of the cross-library benchmark:
// it serves the same small application with the session library chosen by
// -target, so that bench/cmd/compare can load every library through real
// loopback HTTP with the load generator in another process.
//
//	server -target sessionkit-redis -addr 127.0.0.1:8080 -redis redis://127.0.0.1:6379
//
// Every target answers the same routes:
//
//	GET /read         read the session value "n" and write it back in the body
//	GET /write        read "n", store n+1 (read-modify-write), write n+1
//	GET /set?k=NAME   store the value 1 under the key NAME
//	GET /count        write how many keys starting with "k" the session holds
//	GET /debug/stats  {"mallocs":M,"requests":R}: runtime.MemStats.Mallocs
//	                  and the number of session requests served so far
//
// The ceilings are "bare" (no sessions at all) and "redis-bare" (no
// session library: the handler itself issues the Redis commands
// sessionkit's redisstore issues for the same request).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// app is the part of a target that differs between libraries.
type app interface {
	// read, write, set and count implement the routes of the same names;
	// they write the response themselves.
	read(w http.ResponseWriter, r *http.Request)
	write(w http.ResponseWriter, r *http.Request)
	set(w http.ResponseWriter, r *http.Request, key string)
	count(w http.ResponseWriter, r *http.Request)
	// wrap applies the library's middleware, if any.
	wrap(h http.Handler) http.Handler
}

// config is what a target may need to start.
type config struct {
	redisURL    string
	postgresURL string
	dataDir     string
	prefix      string // unique per run: isolates keys and tables
}

var targets = map[string]func(ctx context.Context, c config) (app, func(), error){
	"bare":                newBare,
	"redis-bare":          newRedisBare,
	"redis-bare-ap":       newRedisBareAP,
	"redis-bare-csc":      newRedisBareCSC,
	"redis-bare-rueidis":  newRedisBareRueidis,
	"sessionkit-mem":      newSessionkitMem,
	"sessionkit-cookie":   newSessionkitCookie,
	"sessionkit-bolt":     newSessionkitBolt,
	"sessionkit-redis":    newSessionkitRedis,
	"sessionkit-redis-ap": newSessionkitRedisAP,
	"sessionkit-redis-nc": newSessionkitRedisNC,
	"sessionkit-pg":       newSessionkitPG,
	"scs-mem":             newSCSMem,
	"scs-redis":           newSCSRedis,
	"gorilla-cookie":      newGorillaCookie,
	"gorilla-redis":       newGorillaRedis,
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench server: ")
	target := flag.String("target", "", "library and store to serve: "+strings.Join(targetNames(), ", "))
	addr := flag.String("addr", "127.0.0.1:0", "listen address; the chosen address is printed as `listening ADDR`")
	var c config
	flag.StringVar(&c.redisURL, "redis", os.Getenv("SESSIONKIT_REDIS_URL"), "Redis URL (redis://host:port)")
	flag.StringVar(&c.postgresURL, "postgres", os.Getenv("SESSIONKIT_POSTGRES_URL"), "PostgreSQL URL")
	flag.StringVar(&c.dataDir, "data", os.TempDir(), "directory for file-backed stores")
	flag.StringVar(&c.prefix, "prefix", fmt.Sprintf("bench%d", time.Now().UnixNano()), "key and table prefix")
	cpuProfile := flag.String("cpuprofile", os.Getenv("SESSIONKIT_BENCH_CPUPROFILE"), "write a CPU profile of the whole run to this file (default $SESSIONKIT_BENCH_CPUPROFILE)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	newApp, ok := targets[*target]
	if !ok {
		log.Fatalf("unknown -target %q (want one of %s)", *target, strings.Join(targetNames(), ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, closeApp, err := newApp(ctx, c)
	if err != nil {
		log.Fatalf("%s: %v", *target, err)
	}
	defer closeApp()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: routes(a), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func targetNames() []string {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// routes serves the benchmark routes through the library's middleware and
// /debug/stats outside it.
func routes(a app) http.Handler {
	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", a.read)
	mux.HandleFunc("GET /write", a.write)
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		a.set(w, r, r.URL.Query().Get("k"))
	})
	mux.HandleFunc("GET /count", a.count)
	sessions := a.wrap(mux)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		sessions.ServeHTTP(w, r)
	})

	top := http.NewServeMux()
	top.Handle("/", counted)
	top.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"mallocs": ms.Mallocs, "requests": requests.Load()})
	})
	return top
}

// countKeys counts the benchmark's probe keys (those starting with "k").
func countKeys(keys []string) int {
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "k") {
			n++
		}
	}
	return n
}

func writeInt(w http.ResponseWriter, n int) {
	var buf [20]byte
	w.Write(strconv.AppendInt(buf[:0], int64(n), 10))
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
