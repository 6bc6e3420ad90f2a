//go:build unix

package boltstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit"
)

// The tests below re-run this test binary as a child process (a second
// process is the only way to hold bbolt's file lock against us, or to die
// by SIGKILL). The child runs TestChildProcess with these variables set.
const (
	childModeEnv = "BOLTSTORE_TEST_CHILD"      // "hold" or "write"
	childPathEnv = "BOLTSTORE_TEST_CHILD_PATH" // database file
	childRunEnv  = "BOLTSTORE_TEST_CHILD_RUN"  // prefix for keys the child writes
)

// TestChildProcess is the child's entry point; run directly it does nothing.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("only runs as the child of TestOpenLockedByOtherProcess or TestCrashKeepsAcknowledgedWrites")
	}
	path := os.Getenv(childPathEnv)
	var err error
	switch mode {
	case "hold":
		err = childHold(path)
	case "write":
		err = childWrite(path, os.Getenv(childRunEnv))
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// childHold opens the store, says "ready" and keeps it open until its
// standard input closes (the parent is done, or died).
func childHold(path string) error {
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Println("ready")
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// childWrite saves records from several goroutines until it is killed,
// printing one line per acknowledged write:
//
//	new KEY       a record created under KEY (data: payload(KEY))
//	ctr KEY N     the counter record KEY now holds N (data: decimal N)
//
// It stops by itself after a bounded number of writes.
func childWrite(path, run string) error {
	s, err := Open(path, WithSweepInterval(0), WithLockTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	var (
		mu       sync.Mutex
		out      = bufio.NewWriter(os.Stdout)
		firstErr error
		wg       sync.WaitGroup
	)
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(line + "\n")
		out.Flush() // one write(2) per line: the line is out before the next Save
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	exp := time.Now().Add(24 * time.Hour)
	for g := range 8 {
		wg.Go(func() {
			ctr := fmt.Sprintf("%s-ctr-%d", run, g)
			version, err := s.Save(ctx, ctr, sessionkit.Record{Data: []byte("0"), Expiry: exp})
			if err != nil {
				fail(err)
				return
			}
			ack(fmt.Sprintf("ctr %s 0", ctr))
			for i := 1; i <= 2000; i++ {
				key := fmt.Sprintf("%s-%d-%d", run, g, i)
				if _, err := s.Save(ctx, key, sessionkit.Record{Data: payload(key), Expiry: exp, UserKey: run}); err != nil {
					fail(err)
					return
				}
				ack("new " + key)
				version, err = s.Save(ctx, ctr, sessionkit.Record{Data: []byte(strconv.Itoa(i)), Version: version, Expiry: exp})
				if err != nil {
					fail(err)
					return
				}
				ack(fmt.Sprintf("ctr %s %d", ctr, i))
			}
		})
	}
	wg.Wait()
	return firstErr
}

// payload is the data stored under key: a few hundred bytes to a few KiB,
// so writes split and allocate pages.
func payload(key string) []byte {
	n := 200 + len(key)*37%4000
	return []byte(strings.Repeat(key+";", n/(len(key)+1)+1))
}

func childCmd(t *testing.T, mode, path, run string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childPathEnv+"="+path, childRunEnv+"="+run)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	cmd := childCmd(t, "hold", path, "")
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
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("child: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v; want ready", line, err)
	}

	_, err = Open(path, WithLockTimeout(200*time.Millisecond))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open of a file another process holds: %v; want ErrLocked", err)
	}
	want := "boltstore: open " + path + ": file is locked by another process (waited 200ms)"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}

	// Once the other process lets go, Open succeeds.
	stop()
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatalf("Open after the other process exited: %v", err)
	}
	s.Close()
}

// TestCrashKeepsAcknowledgedWrites kills a writing child with SIGKILL in
// the middle of its writes, several times over one file, and checks that
// every write the child saw acknowledged is there after reopening and that
// the file is consistent.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	created := map[string]bool{} // acknowledged new records
	counters := map[string]int{} // highest acknowledged value per counter
	for round := range 3 {
		run := fmt.Sprintf("r%d", round)
		cmd := childCmd(t, "write", path, run)
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
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v after %d acknowledgements, want killed by SIGKILL", round, err, acks)
		}
		checkAcknowledged(t, path, created, counters)
	}
}

func checkAcknowledged(t *testing.T, path string, created map[string]bool, counters map[string]int) {
	t.Helper()
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	err = s.db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("consistency check after crash: %v", err)
	}
	ctx := t.Context()
	for key := range created {
		rec, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("acknowledged record %s lost: %v", key, err)
		}
		if string(rec.Data) != string(payload(key)) {
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
