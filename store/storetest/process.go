package storetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Opener opens the store kept in the file at path, creating the file if
// it does not exist. The store it returns must implement
// sessionkit.Closer. An embedded store's tests pass one to [RunCrash] and
// [RunProcesses].
type Opener func(path string) (sessionkit.Store, error)

// The process tests re-run the test binary, with the same -test.run
// pattern, as child processes; these variables tell the child what to do.
const (
	childModeEnv = "SESSIONKIT_STORETEST_CHILD"      // "crash" or "counter"
	childPathEnv = "SESSIONKIT_STORETEST_CHILD_PATH" // the store's file
	childRunEnv  = "SESSIONKIT_STORETEST_CHILD_RUN"  // key prefix of this child
)

// RunCrash kills a child process that writes to the store in the file
// with SIGKILL in the middle of its writes, three times over one file, and
// checks after each kill that every write the child saw acknowledged is
// there, with the right data, when the file is opened again. check, if not
// nil, is then called on the reopened store to verify the file's own
// consistency (bbolt's Tx.Check, SQLite's integrity_check).
//
// RunCrash re-runs the test binary as the child, selecting the calling
// test by name: call it at most once per test, from a test that does
// nothing before it that the child must not do. It is skipped in short
// mode and where processes cannot be killed (no SIGKILL).
func RunCrash(t *testing.T, open Opener, check func(sessionkit.Store) error) {
	if os.Getenv(childModeEnv) == "crash" {
		childMain(t, open, crashChild)
		return
	}
	if testing.Short() {
		t.Skip("runs and kills child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	created := map[string]bool{} // acknowledged new records
	counters := map[string]int{} // highest acknowledged value per counter
	for round := range 3 {
		run := fmt.Sprintf("r%d", round)
		cmd := childCommand(t, "crash", path, run)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		acks, killed := 0, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // EOF after the kill; a partial last line was never acknowledged
			}
			acks++
			if f := strings.Fields(line); len(f) == 2 && f[0] == "new" {
				created[f[1]] = true
			} else if len(f) == 3 && f[0] == "ctr" {
				n, _ := strconv.Atoi(f[2])
				counters[f[1]] = max(counters[f[1]], n)
			} else {
				t.Fatalf("child printed %q", line)
			}
			if acks == 400+round*150 && !killed {
				if err := kill(cmd.Process); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed || !killedBySignal(err) {
			t.Fatalf("round %d: child ended with %v after %d acknowledgements, want killed by SIGKILL", round, err, acks)
		}
		checkAcknowledged(t, open, check, path, created, counters)
	}
}

// crashChild saves records from several goroutines until it is killed,
// printing one line per acknowledged write:
//
//	new KEY       a record created under KEY (data: crashPayload(KEY))
//	ctr KEY N     the counter record KEY now holds N (data: decimal N)
//
// It stops by itself after a bounded number of writes.
func crashChild(s sessionkit.Store, run string, out *childOutput) error {
	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ctr := fmt.Sprintf("%s-ctr-%d", run, g)
			version, err := s.Save(ctx, ctr, sessionkit.Record{Data: []byte("0"), Expiry: exp})
			if err != nil {
				out.fail(err)
				return
			}
			out.line(fmt.Sprintf("ctr %s 0", ctr))
			for i := 1; i <= 2000; i++ {
				key := fmt.Sprintf("%s-%d-%d", run, g, i)
				if _, err := s.Save(ctx, key, sessionkit.Record{Data: crashPayload(key), Expiry: exp, UserKey: run}); err != nil {
					out.fail(err)
					return
				}
				out.line("new " + key)
				version, err = s.Save(ctx, ctr, sessionkit.Record{Data: []byte(strconv.Itoa(i)), Version: version, Expiry: exp})
				if err != nil {
					out.fail(err)
					return
				}
				out.line(fmt.Sprintf("ctr %s %d", ctr, i))
			}
		})
	}
	wg.Wait()
	return nil
}

// crashPayload is the data stored under key: a few hundred bytes to a few
// KiB, so that writes split and allocate pages.
func crashPayload(key string) []byte {
	n := 200 + len(key)*37%4000
	return []byte(strings.Repeat(key+";", n/(len(key)+1)+1))
}

func checkAcknowledged(t *testing.T, open Opener, check func(sessionkit.Store) error, path string, created map[string]bool, counters map[string]int) {
	t.Helper()
	s := openForTest(t, open, path)
	defer closeStore(t, s)
	if check != nil {
		if err := check(s); err != nil {
			t.Fatalf("consistency check after crash: %v", err)
		}
	}
	ctx := t.Context()
	for key := range created {
		rec, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("acknowledged record %s lost: %v", key, err)
		}
		if string(rec.Data) != string(crashPayload(key)) {
			t.Fatalf("record %s holds %d wrong bytes", key, len(rec.Data))
		}
	}
	for key, n := range counters {
		rec, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("counter %s lost: %v", key, err)
		}
		// The write after the last acknowledged one may have landed too.
		if got, err := strconv.Atoi(string(rec.Data)); err != nil || got < n {
			t.Fatalf("counter %s = %q, acknowledged %d", key, rec.Data, n)
		}
	}
	t.Logf("%d acknowledged records and %d counters intact", len(created), len(counters))
}

// ProcessStats is what [RunProcesses] measured, for the calling test to
// log or check.
type ProcessStats struct {
	Processes, Goroutines, Increments int
	// Conflicts is how many Saves of the shared counter, over all
	// processes, reported ErrConflict. Each was retried (the counter
	// loaded again, then saved) until a save succeeded: the children
	// retry without limit or backoff, unlike the Manager, which retries
	// a commit up to Manager.MaxRetries times and then fails it with
	// ErrTooManyConflicts. (A conflict on a process's own record fails
	// the test instead.)
	Conflicts int
	// Calls is how many store calls were made; Slowest the longest one
	// took, and P99 the 99th percentile, over all processes.
	Calls         int
	Slowest, P99  time.Duration
	Elapsed       time.Duration
	CommitsPerSec float64
}

// RunProcesses starts processes child processes on one store file at the
// same time. Each runs goroutines goroutines that each add 1, increments
// times, to one counter record shared by every process (load, then save
// with compare-and-swap, reloading and saving again on ErrConflict until
// the save succeeds: no retry limit, unlike the Manager's MaxRetries),
// and save a record of their own after each increment. It then checks
// that the counter holds exactly processes×goroutines×increments — no
// update lost across processes — and that every own record is there. Any
// error other than ErrConflict (such as a lock that was not waited for)
// fails the test. Every store call has a 30-second deadline.
//
// Like RunCrash, it re-runs the test binary as the children: call it at
// most once per test. It is skipped in short mode.
func RunProcesses(t *testing.T, open Opener, processes, goroutines, increments int) ProcessStats {
	if os.Getenv(childModeEnv) == "counter" {
		childMain(t, open, func(s sessionkit.Store, run string, out *childOutput) error {
			return counterChild(s, run, out, goroutines, increments)
		})
		return ProcessStats{}
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	// Create the file first, so that the children race on writes, not on
	// creating it.
	closeStore(t, openForTest(t, open, path))

	type result struct {
		report counterReport
		err    error
	}
	results := make([]result, processes)
	var wg sync.WaitGroup
	start := time.Now()
	for p := range processes {
		cmd := childCommand(t, "counter", path, fmt.Sprintf("p%d", p))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			out, _ := io.ReadAll(stdout)
			err := cmd.Wait()
			if err == nil {
				err = json.Unmarshal(out, &results[p].report)
			}
			if err != nil {
				err = fmt.Errorf("child p%d: %w (output %q)", p, err, out)
			}
			results[p].err = err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	stats := ProcessStats{Processes: processes, Goroutines: goroutines, Increments: increments, Elapsed: elapsed}
	var calls []time.Duration
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		stats.Conflicts += r.report.Conflicts
		for _, us := range r.report.CallMicros {
			calls = append(calls, time.Duration(us)*time.Microsecond)
		}
	}
	slices.Sort(calls)
	stats.Calls = len(calls)
	if len(calls) > 0 {
		stats.Slowest = calls[len(calls)-1]
		stats.P99 = calls[len(calls)*99/100]
	}
	commits := processes * goroutines * increments * 2
	stats.CommitsPerSec = float64(commits) / elapsed.Seconds()

	s := openForTest(t, open, path)
	defer closeStore(t, s)
	ctx := t.Context()
	rec, err := s.Load(ctx, counterKey)
	if err != nil {
		t.Fatalf("load counter: %v", err)
	}
	if want := processes * goroutines * increments; string(rec.Data) != strconv.Itoa(want) {
		t.Fatalf("counter = %s after %d increments: updates were lost", rec.Data, want)
	}
	for p := range processes {
		for g := range goroutines {
			key := fmt.Sprintf("p%d-g%d-%d", p, g, increments)
			if rec, err := s.Load(ctx, key); err != nil || string(rec.Data) != key {
				t.Fatalf("own record %s: %q, %v", key, rec.Data, err)
			}
		}
	}
	return stats
}

const counterKey = "shared-counter"

// counterReport is what a counter child prints when done.
type counterReport struct {
	Conflicts  int     `json:"conflicts"`
	CallMicros []int64 `json:"call_micros"`
}

func counterChild(s sessionkit.Store, run string, out *childOutput, goroutines, increments int) error {
	exp := time.Now().Add(time.Hour)
	var (
		mu     sync.Mutex
		report counterReport
		wg     sync.WaitGroup
	)
	timed := func(f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		us := time.Since(start).Microseconds()
		mu.Lock()
		report.CallMicros = append(report.CallMicros, us)
		if errors.Is(err, sessionkit.ErrConflict) {
			report.Conflicts++
		}
		mu.Unlock()
		return err
	}
	for g := range goroutines {
		wg.Go(func() {
			for i := 1; i <= increments; i++ {
				for {
					var rec sessionkit.Record
					err := timed(func(ctx context.Context) (err error) {
						rec, err = s.Load(ctx, counterKey)
						return err
					})
					n := 0
					switch {
					case errors.Is(err, sessionkit.ErrNotFound):
						rec = sessionkit.Record{}
					case err != nil:
						out.fail(fmt.Errorf("load counter: %w", err))
						return
					default:
						if n, err = strconv.Atoi(string(rec.Data)); err != nil {
							out.fail(fmt.Errorf("counter holds %q", rec.Data))
							return
						}
					}
					err = timed(func(ctx context.Context) error {
						_, err := s.Save(ctx, counterKey, sessionkit.Record{Data: []byte(strconv.Itoa(n + 1)), Version: rec.Version, Expiry: exp})
						return err
					})
					if errors.Is(err, sessionkit.ErrConflict) {
						continue
					}
					if err != nil {
						out.fail(fmt.Errorf("save counter: %w", err))
						return
					}
					break
				}
				key := fmt.Sprintf("%s-g%d-%d", run, g, i)
				err := timed(func(ctx context.Context) error {
					_, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(key), Expiry: exp, UserKey: run})
					return err
				})
				if err != nil {
					out.fail(fmt.Errorf("save %s: %w", key, err))
					return
				}
			}
		})
	}
	wg.Wait()
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	out.line(string(b))
	return nil
}

// childOutput serialises a child's output lines and keeps its first error.
type childOutput struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// line writes one line and flushes it (one write(2) per line: the line
// is out before the next store call).
func (o *childOutput) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.WriteString(s + "\n")
	o.w.Flush()
}

func (o *childOutput) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

// childMain runs a child's work on the store at the path it was given and
// ends the process: 0 when fn and every goroutine succeeded, 2 otherwise.
func childMain(t *testing.T, open Opener, fn func(s sessionkit.Store, run string, out *childOutput) error) {
	s, err := open(os.Getenv(childPathEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	out := &childOutput{w: bufio.NewWriter(os.Stdout)}
	err = fn(s, os.Getenv(childRunEnv), out)
	if err == nil {
		err = out.err
	}
	if c, ok := s.(sessionkit.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// childCommand returns the command that re-runs the calling test (only
// it) in a child process in the given mode.
func childCommand(t *testing.T, mode, path, run string) *exec.Cmd {
	t.Helper()
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childPathEnv+"="+path, childRunEnv+"="+run)
	cmd.Stderr = os.Stderr
	return cmd
}

func openForTest(t *testing.T, open Opener, path string) sessionkit.Store {
	t.Helper()
	s, err := open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if _, ok := s.(sessionkit.Closer); !ok {
		t.Fatalf("the store %T does not implement sessionkit.Closer", s)
	}
	return s
}

func closeStore(t *testing.T, s sessionkit.Store) {
	t.Helper()
	if err := s.(sessionkit.Closer).Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// kill ends p at once, as a crash would (SIGKILL on Unix).
func kill(p *os.Process) error { return p.Kill() }

// killedBySignal reports whether a child's Wait error says it was killed
// rather than having exited.
func killedBySignal(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && !exit.Exited()
}
