package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// writerEnv, when set, makes the test binary the writing process of
// TestNearCacheInvalidationWindow instead of running the tests.
const writerEnv = "SESSIONKIT_NEARCACHE_WRITER"

// windowWritesEnv overrides how many changes the window test makes per
// topology (default 200).
const windowWritesEnv = "SESSIONKIT_NEARCACHE_WRITES"

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		os.Exit(runWriter(spec))
	}
	os.Exit(m.Run())
}

// runWriter is the other process: with a store of its own (no near
// cache), on the line "go" from stdin it changes the session "hot" writes
// times, writing "ack N UNIXNANO" after each change N is acknowledged,
// then deletes it ("del N UNIXNANO", N = writes+1) and writes "done".
func runWriter(spec string) int {
	fields := strings.Split(spec, "\n")
	if len(fields) != 3 {
		fmt.Fprintln(os.Stderr, "writer: bad spec")
		return 2
	}
	url, prefix := fields[0], fields[1]
	writes, err := strconv.Atoi(fields[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := redisstore.NewFromURL(ctx, url, redisstore.Options{Prefix: prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	defer store.Close()
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || line != "go\n" {
		fmt.Fprintln(os.Stderr, "writer: no go:", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for n := 1; n <= writes; n++ {
		rec, err := store.Load(ctx, "hot")
		if err == nil {
			rec.Data = []byte(strconv.Itoa(n))
			_, err = store.Save(ctx, "hot", rec)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer: change", n, err)
			return 1
		}
		fmt.Fprintf(out, "ack %d %d\n", n, time.Now().UnixNano())
		out.Flush()
		time.Sleep(2 * time.Millisecond)
	}
	if err := store.Delete(ctx, "hot"); err != nil {
		fmt.Fprintln(os.Stderr, "writer: delete:", err)
		return 1
	}
	fmt.Fprintf(out, "del %d %d\ndone\n", writes+1, time.Now().UnixNano())
	out.Flush()
	return 0
}

// observation is one load by the reading process: when it began and
// ended (Unix ns) and the change it saw (the deletion counts as the last
// change).
type observation struct {
	began, ended int64
	change       int
}

// TestNearCacheInvalidationWindow changes a session from another OS
// process while this one reads it through the near cache from several
// goroutines as fast as it can, and checks that no load that began after
// an invalidation arrived returned a change older than every change
// acknowledged before that arrival (the deletion, a logout, included).
// It logs how long after a change was acknowledged to the writer the
// reader still served the previous one (docs/RELIABILITY.md).
func TestNearCacheInvalidationWindow(t *testing.T) {
	writes := 200
	if v := os.Getenv(windowWritesEnv); v != "" {
		var err error
		if writes, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, topo := range topologies {
		for _, load := range []string{"HTTP", "Spin"} {
			t.Run(topo.name+"/"+load, func(t *testing.T) { testInvalidationWindow(t, topo.url(t), writes, load == "HTTP") })
		}
	}
}

// testInvalidationWindow reads either from the handlers of an HTTP server
// that keep-alive clients in this process load (httpLoad), or from
// goroutines that do nothing but load, which keeps the process's CPUs
// busy with goroutines that never block: the worst case for the
// goroutine that applies invalidations, which then waits for the Go
// scheduler.
func testInvalidationWindow(t *testing.T, url string, writes int, httpLoad bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	client := newClient(t, url)
	near := newStoreWith(t, client, redisstore.Options{NearCache: &redisstore.NearCache{}})
	if _, err := near.Save(ctx, "hot", sessionkit.Record{Data: []byte("0"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		arrivals []int64
	)
	redisstore.SetNearCacheHook(near, func(key string) {
		if key == "hot" {
			now := time.Now().UnixNano()
			mu.Lock()
			arrivals = append(arrivals, now)
			mu.Unlock()
		}
	})

	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), writerEnv+"="+url+"\n"+near.Prefix()+"\n"+strconv.Itoa(writes))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()

	const readers = 8
	var stop atomic.Bool
	seen := make([][]observation, readers+1) // the last for the HTTP handlers
	var seenMu sync.Mutex                    // guards seen[readers]
	// read loads the session and records what it saw in seen[i].
	read := func(ctx context.Context, i int) error {
		began := time.Now().UnixNano()
		rec, err := near.Load(ctx, "hot")
		ended := time.Now().UnixNano()
		change := writes + 1
		if err == nil {
			change, err = strconv.Atoi(string(rec.Data))
		}
		if err != nil && !errors.Is(err, sessionkit.ErrNotFound) {
			return err
		}
		if i == readers {
			seenMu.Lock()
			defer seenMu.Unlock()
		}
		seen[i] = append(seen[i], observation{began, ended, change})
		return nil
	}
	var wg sync.WaitGroup
	if httpLoad {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := read(r.Context(), readers); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write([]byte("ok"))
		}))
		defer srv.Close()
		for range readers {
			wg.Go(func() {
				hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
				defer hc.CloseIdleConnections()
				for !stop.Load() {
					resp, err := hc.Get(srv.URL)
					if err != nil {
						t.Errorf("client: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("client: %s", resp.Status)
						return
					}
				}
			})
		}
	} else {
		for i := range readers {
			wg.Go(func() {
				for !stop.Load() {
					if err := read(ctx, i); err != nil {
						t.Errorf("reader: %v", err)
						return
					}
				}
			})
		}
	}

	acks := make([]int64, writes+2) // acks[n]: when change n was acknowledged
	if _, err := fmt.Fprintln(stdin, "go"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "done" {
			break
		}
		if len(f) != 3 || (f[0] != "ack" && f[0] != "del") {
			t.Fatalf("writer said %q", sc.Text())
		}
		n, err1 := strconv.Atoi(f[1])
		at, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || n < 1 || n > writes+1 {
			t.Fatalf("writer said %q", sc.Text())
		}
		acks[n] = at
	}
	// Keep reading a little after the deletion, as the goroutines of a
	// server would.
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if slices.Contains(acks[1:], 0) {
		t.Fatal("the writer did not report every change")
	}
	mu.Lock()
	arr := slices.Clone(arrivals)
	mu.Unlock()
	slices.Sort(arr)
	var all []observation
	for _, obs := range seen {
		all = append(all, obs...)
	}

	// acked(at) is the newest change acknowledged before at.
	acked := func(at int64) int {
		return sort.Search(writes+1, func(n int) bool { return acks[n+1] >= at })
	}
	window := make([]int64, writes+2) // how long after acks[n] change n-1 or older was still served
	violations := 0
	for _, o := range all {
		// Correctness: the newest invalidation that arrived before the
		// load began covers every change acknowledged before it arrived.
		if i := sort.Search(len(arr), func(i int) bool { return arr[i] > o.began }); i > 0 {
			if need := acked(arr[i-1]); o.change < need {
				violations++
				if violations <= 5 {
					t.Errorf("a load that began %v after an invalidation arrived saw change %d, older than change %d acknowledged before it",
						time.Duration(o.began-arr[i-1]), o.change, need)
				}
			}
		}
		// The staleness window of each newer change acknowledged before
		// the load began.
		for n := o.change + 1; n <= acked(o.began); n++ {
			window[n] = max(window[n], o.ended-acks[n])
		}
	}
	if violations > 0 {
		t.Errorf("%d of %d loads violated the invalidation order", violations, len(all))
	}
	st, _ := near.NearCacheStats()
	w := slices.Clone(window[1:])
	slices.Sort(w)
	stale := len(w) - sort.Search(len(w), func(i int) bool { return w[i] > 0 })
	pct := func(p float64) time.Duration {
		return time.Duration(w[min(len(w)-1, int(math.Ceil(p*float64(len(w))))-1)])
	}
	t.Logf("%d changes and a deletion by another process, %d loads (%d cache hits, %d misses, %d invalidations): "+
		"a change was still served after it was acknowledged for %d of them; window p50 %v, p99 %v, max %v",
		writes, len(all), st.Hits, st.Misses, len(arr), stale, pct(0.50), pct(0.99), time.Duration(w[len(w)-1]))
}
