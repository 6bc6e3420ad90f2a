// Command compare runs sessionkit's cross-library HTTP benchmark: every
// target (sessionkit on several stores, alexedwards/scs, gorilla/sessions,
// express-session, and two ceilings) is started as its own server process
// on loopback and loaded by this process over keep-alive HTTP, then probed
// for lost updates. It writes the results as a table into
// docs/BENCHMARKS.md (between the bench-compare markers) and as a bar
// chart to docs/bench.svg.
//
// From the repository root, with throw-away Redis and PostgreSQL servers:
//
//	make bench-compare
//
// which runs
//
//	go run ./internal/testenv/cmd/withbackends -only redis,postgres -- go -C bench run ./cmd/compare
//
// Targets that need a backend whose URL is not set (SESSIONKIT_REDIS_URL,
// SESSIONKIT_POSTGRES_URL) or Node (for express-session) are reported as
// skipped. Node packages are installed with `npm ci` from
// bench/node/package-lock.json into a cache directory outside the source
// tree ($SESSIONKIT_TESTENV_CACHE or ~/.cache/sessionkit-bench).
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is one server configuration.
type target struct {
	Name    string // -target of bench/cmd/server, or express-*
	Library string
	Store   string
	Node    bool   // served by bench/node/server.js
	Needs   string // "redis", "postgres" or ""
	Ceiling bool   // no session library (no lost-update probe)
}

var allTargets = []target{
	{Name: "bare", Library: "net/http (ceiling)", Store: "none", Ceiling: true},
	{Name: "redis-bare", Library: "net/http + go-redis (ceiling)", Store: "Redis", Needs: "redis", Ceiling: true},
	{Name: "redis-bare-ap", Library: "net/http + go-redis AutoPipeline (ceiling)", Store: "Redis", Needs: "redis", Ceiling: true},
	{Name: "redis-bare-csc", Library: "net/http + go-redis client-side cache (ceiling)", Store: "Redis", Needs: "redis", Ceiling: true},
	{Name: "redis-bare-rueidis", Library: "net/http + rueidis client-side cache (ceiling)", Store: "Redis", Needs: "redis", Ceiling: true},
	{Name: "sessionkit-mem", Library: "sessionkit", Store: "memstore"},
	{Name: "sessionkit-cookie", Library: "sessionkit", Store: "cookiestore"},
	{Name: "sessionkit-bolt", Library: "sessionkit", Store: "boltstore"},
	{Name: "sessionkit-redis", Library: "sessionkit", Store: "redisstore", Needs: "redis"},
	{Name: "sessionkit-redis-ap", Library: "sessionkit", Store: "redisstore, AutoPipeline", Needs: "redis"},
	{Name: "sessionkit-redis-nc", Library: "sessionkit", Store: "redisstore, NearCache", Needs: "redis"},
	{Name: "sessionkit-pg", Library: "sessionkit", Store: "pgstore", Needs: "postgres"},
	{Name: "scs-mem", Library: "scs v2", Store: "memstore"},
	{Name: "scs-redis", Library: "scs v2", Store: "goredisstore", Needs: "redis"},
	{Name: "gorilla-cookie", Library: "gorilla/sessions", Store: "CookieStore"},
	{Name: "gorilla-redis", Library: "gorilla/sessions", Store: "boj/redistore", Needs: "redis"},
	{Name: "express-mem", Library: "express-session", Store: "MemoryStore", Node: true},
	{Name: "express-redis", Library: "express-session", Store: "connect-redis", Node: true, Needs: "redis"},
}

// workloads maps a workload name to its route.
var workloads = []struct{ Name, Path string }{
	{"read", "/read"},
	{"rmw", "/write"},
}

type options struct {
	redisURL, postgresURL string
	workers               int
	warmup, duration      time.Duration
	lostN, lostRounds     int
	only                  string
	docs, svg             string
	cacheDir              string
	waitLoad              float64
	waitMax               time.Duration
	repeat                int
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("compare: ")
	var o options
	flag.StringVar(&o.redisURL, "redis", os.Getenv("SESSIONKIT_REDIS_URL"), "Redis URL for the Redis targets")
	flag.StringVar(&o.postgresURL, "postgres", os.Getenv("SESSIONKIT_POSTGRES_URL"), "PostgreSQL URL for the PostgreSQL targets")
	flag.IntVar(&o.workers, "workers", 32, "concurrent clients, each with its own session")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each cell")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured load per cell")
	flag.IntVar(&o.lostN, "lost-n", 32, "concurrent updates per lost-update round")
	flag.IntVar(&o.lostRounds, "lost-rounds", 5, "lost-update rounds per target")
	flag.StringVar(&o.only, "only", "", "comma-separated targets to run (default: all)")
	flag.StringVar(&o.docs, "docs", "../docs/BENCHMARKS.md", "Markdown file to write the results into (between the bench-compare markers); empty: print only")
	flag.StringVar(&o.svg, "svg", "../docs/bench.svg", "SVG chart to write; empty: none")
	flag.StringVar(&o.cacheDir, "cache", defaultCache(), "where the Node packages are installed")
	flag.Float64Var(&o.waitLoad, "wait-load", 1.5, "wait until the 1-minute load average is below this before measuring (0: don't wait)")
	flag.DurationVar(&o.waitMax, "wait-max", 15*time.Minute, "longest wait for -wait-load")
	flag.IntVar(&o.repeat, "repeat", 3, "passes over all targets; each cell reports its median pass (by requests/s)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func defaultCache() string {
	if d := os.Getenv("SESSIONKIT_TESTENV_CACHE"); d != "" {
		return filepath.Join(d, "bench")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sessionkit-bench")
	}
	return filepath.Join(os.TempDir(), "sessionkit-bench")
}

// cell is the result of one target under one workload.
type cell struct {
	Target   target
	Workload string
	Result   loadResult
	Allocs   float64 // per request; -1 when not measured
	// CPU time per request over the measured window, in µs (-1 when not
	// measured): of the server process, of the store's server (Redis or
	// PostgreSQL, the whole process tree) and of the load generator.
	ServerCPU, StoreCPU, ClientCPU float64
	Skipped                        string
}

// lost is a target's lost-update figure.
type lost struct {
	Target            target
	Sent, Acked, Kept int
	Skipped           string
}

type report struct {
	Cells              []cell
	Lost               []lost
	LoadStart, LoadEnd string
	Workers            int
	Warmup, Duration   time.Duration
	LostN, LostRounds  int
	Passes             int
	GoVersion, NodeVer string
	CPUs               int
	Started            time.Time
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "sessionkit-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	log.Printf("building bench/cmd/server")
	serverBin := filepath.Join(tmp, "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", serverBin, "./cmd/server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build server (run compare from the bench directory): %w", err)
	}
	nodeDir, nodeVer, nodeErr := prepareNode(ctx, o.cacheDir)
	if nodeErr != nil {
		log.Printf("express-session targets skipped: %v", nodeErr)
	}

	selected := allTargets
	if o.only != "" {
		selected = nil
		for _, name := range strings.Split(o.only, ",") {
			found := false
			for _, t := range allTargets {
				if t.Name == name {
					selected = append(selected, t)
					found = true
				}
			}
			if !found {
				return fmt.Errorf("unknown target %q", name)
			}
		}
	}

	// The store servers' processes, whose CPU time is sampled with each
	// cell of a target that uses them.
	storePIDs := map[string]int{}
	for name, u := range map[string]string{"redis": o.redisURL, "postgres": o.postgresURL} {
		if u == "" {
			continue
		}
		pid, err := storePID(u)
		if err != nil {
			log.Printf("%s CPU time not measured: %v", name, err)
			continue
		}
		storePIDs[name] = pid
	}

	if o.waitLoad > 0 {
		waitQuiet(ctx, o.waitLoad, o.waitMax)
	}
	rep := report{
		LoadStart: loadAvg(), Workers: o.workers, Warmup: o.warmup, Duration: o.duration,
		LostN: o.lostN, LostRounds: o.lostRounds, GoVersion: runtime.Version(), NodeVer: nodeVer,
		CPUs: runtime.NumCPU(), Started: time.Now(),
	}
	prefix := fmt.Sprintf("bench%d", time.Now().Unix())
	// Passes interleave the targets, so that a burst of other work on the
	// machine hits one pass of several targets rather than every pass of
	// one; each cell then reports its median pass.
	passes := map[string][]cell{}
	skipped := map[string]string{}
	lostBy := map[string]lost{}
	for pass := range max(o.repeat, 1) {
		for _, t := range selected {
			if skipped[t.Name] != "" {
				continue
			}
			skip := ""
			switch {
			case t.Needs == "redis" && o.redisURL == "":
				skip = "SESSIONKIT_REDIS_URL not set"
			case t.Needs == "postgres" && o.postgresURL == "":
				skip = "SESSIONKIT_POSTGRES_URL not set"
			case t.Node && nodeErr != nil:
				skip = "Node: " + nodeErr.Error()
			}
			if skip == "" {
				log.Printf("pass %d of %d: %s", pass+1, o.repeat, t.Name)
				cells, l, err := runTarget(ctx, o, t, serverBin, nodeDir, tmp, fmt.Sprintf("%s%d", prefix, pass), pass == 0, storePIDs[t.Needs])
				if err == nil {
					for _, c := range cells {
						passes[t.Name+"/"+c.Workload] = append(passes[t.Name+"/"+c.Workload], c)
					}
					if pass == 0 {
						lostBy[t.Name] = l
					}
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				skip = err.Error()
			}
			log.Printf("%s: skipped: %s", t.Name, skip)
			skipped[t.Name] = skip
		}
	}
	for _, t := range selected {
		for _, w := range workloads {
			if skip := skipped[t.Name]; skip != "" {
				rep.Cells = append(rep.Cells, cell{Target: t, Workload: w.Name, Skipped: skip})
				continue
			}
			rep.Cells = append(rep.Cells, median(passes[t.Name+"/"+w.Name]))
		}
		if skip := skipped[t.Name]; skip != "" {
			rep.Lost = append(rep.Lost, lost{Target: t, Skipped: skip})
		} else {
			rep.Lost = append(rep.Lost, lostBy[t.Name])
		}
	}
	rep.Passes = max(o.repeat, 1)
	rep.LoadEnd = loadAvg()

	md := rep.markdown()
	fmt.Println(md)
	if o.docs != "" {
		if err := writeSection(o.docs, md); err != nil {
			return err
		}
		log.Printf("wrote %s", o.docs)
	}
	if o.svg != "" {
		if err := os.WriteFile(o.svg, []byte(rep.svg()), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s", o.svg)
	}
	return nil
}

// median returns the cell with the median requests/s of its passes.
func median(cs []cell) cell {
	sorted := slices.Clone(cs)
	slices.SortFunc(sorted, func(a, b cell) int { return cmp.Compare(a.Result.RPS(), b.Result.RPS()) })
	return sorted[len(sorted)/2]
}

// runTarget starts t's server, runs every workload and the lost-update
// probe against it, and stops it. storePID is the process of the store's
// server (0 if none or unknown).
func runTarget(ctx context.Context, o options, t target, serverBin, nodeDir, tmp, prefix string, probeLost bool, storePID int) ([]cell, lost, error) {
	var cmd *exec.Cmd
	if t.Node {
		cmd = exec.CommandContext(ctx, "node", filepath.Join(nodeDir, "server.js"),
			"--target", t.Name, "--redis", o.redisURL, "--prefix", prefix+t.Name)
	} else {
		cmd = exec.CommandContext(ctx, serverBin, "-target", t.Name, "-redis", o.redisURL,
			"-postgres", o.postgresURL, "-data", tmp, "-prefix", prefix+strings.ReplaceAll(t.Name, "-", "_"))
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, lost{}, err
	}
	if err := cmd.Start(); err != nil {
		return nil, lost{}, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	addr, err := readListening(stdout)
	if err != nil {
		return nil, lost{}, fmt.Errorf("server did not start: %w", err)
	}
	go io.Copy(io.Discard, stdout)
	base := "http://" + addr

	var cells []cell
	for _, w := range workloads {
		before, errB := stats(ctx, base)
		log.Printf("%s %s: %d workers, %s warm-up, %s measured", t.Name, w.Name, o.workers, o.warmup, o.duration)
		probes := []cpuProbe{{pid: cmd.Process.Pid, tree: true}, {pid: storePID, tree: true}, {pid: os.Getpid()}}
		res, err := runLoad(ctx, base, w.Path, o.workers, o.warmup, o.duration, probes)
		if err != nil {
			return nil, lost{}, fmt.Errorf("%s: %w", w.Name, err)
		}
		perRequest := func(d time.Duration) float64 {
			if d < 0 || res.Requests+res.Errors == 0 {
				return -1
			}
			return float64(d.Nanoseconds()) / 1e3 / float64(res.Requests+res.Errors)
		}
		after, errA := stats(ctx, base)
		allocs := -1.0
		if !t.Node && errB == nil && errA == nil && after.Requests > before.Requests {
			allocs = float64(after.Mallocs-before.Mallocs) / float64(after.Requests-before.Requests)
		}
		c := cell{Target: t, Workload: w.Name, Result: res, Allocs: allocs,
			ServerCPU: perRequest(res.CPU[0]), StoreCPU: perRequest(res.CPU[1]), ClientCPU: perRequest(res.CPU[2])}
		log.Printf("%s %s: %.0f req/s, p50 %v, p99 %v, %d errors %s; CPU µs/request: server %.1f, store %.1f, load generator %.1f",
			t.Name, w.Name, res.RPS(), res.P50, res.P99, res.Errors, res.FirstFail, c.ServerCPU, c.StoreCPU, c.ClientCPU)
		cells = append(cells, c)
	}

	l := lost{Target: t}
	if !probeLost {
		return cells, l, nil
	}
	if t.Ceiling {
		l.Skipped = "no sessions"
		return cells, l, nil
	}
	for range o.lostRounds {
		acked, kept, err := lostUpdates(ctx, base, o.lostN)
		if err != nil {
			l.Skipped = err.Error()
			break
		}
		l.Sent += o.lostN
		l.Acked += acked
		l.Kept += kept
	}
	log.Printf("%s lost updates: %d sent, %d acknowledged, %d kept", t.Name, l.Sent, l.Acked, l.Kept)
	return cells, l, nil
}

func readListening(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	done := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				done <- addr
				return
			}
		}
		close(done)
	}()
	select {
	case addr, ok := <-done:
		if !ok {
			return "", errors.New("exited before listening")
		}
		return addr, nil
	case <-time.After(30 * time.Second):
		return "", errors.New("not listening after 30s")
	}
}

type serverStats struct {
	Mallocs  uint64 `json:"mallocs"`
	Requests uint64 `json:"requests"`
}

func stats(ctx context.Context, base string) (serverStats, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/debug/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return serverStats{}, err
	}
	defer resp.Body.Close()
	var s serverStats
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// prepareNode copies bench/node into cacheDir and installs its locked
// packages there with npm ci when the lock file changed.
func prepareNode(ctx context.Context, cacheDir string) (dir, version string, err error) {
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("node not found (apt-get install nodejs npm): %w", err)
	}
	version = strings.TrimSpace(string(out))
	dir = filepath.Join(cacheDir, "node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	lock, err := os.ReadFile("node/package-lock.json")
	if err != nil {
		return "", "", err
	}
	installed, _ := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	for _, f := range []string{"package.json", "package-lock.json", "server.js"} {
		b, err := os.ReadFile(filepath.Join("node", f))
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", "", err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "express-session")); err != nil || string(installed) != string(lock) {
		log.Printf("npm ci --prefix %s", dir)
		npm := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund")
		npm.Stdout, npm.Stderr = os.Stderr, os.Stderr
		if err := npm.Run(); err != nil {
			return "", "", fmt.Errorf("npm ci: %w", err)
		}
	}
	return dir, version, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// waitQuiet waits until the 1-minute load average is below limit, at most
// max, so that other work on the machine distorts the figures less.
func waitQuiet(ctx context.Context, limit float64, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		one, _ := strconv.ParseFloat(strings.Fields(loadAvg() + " x")[0], 64)
		if one < limit {
			return
		}
		if time.Now().After(deadline) {
			log.Printf("load average still %.2f after %s; measuring anyway", one, max)
			return
		}
		log.Printf("load average %.2f, waiting for < %.2f", one, limit)
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Second):
		}
	}
}
