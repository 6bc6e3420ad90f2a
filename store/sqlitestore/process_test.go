package sqlitestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storetest"
)

func openProcess(path string) (sessionkit.Store, error) {
	return Open(path, WithSweepInterval(0))
}

// integrity runs SQLite's own consistency check of the whole file.
func integrity(s sessionkit.Store) error {
	var res string
	if err := s.(*Store).db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity_check: %s", res)
	}
	return nil
}

// TestCrashKeepsAcknowledgedWrites kills a writing process with SIGKILL
// mid-write: nothing it saw acknowledged may be lost, and the file must
// stay consistent.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	storetest.RunCrash(t, openProcess, integrity)
}

// TestProcessesShareFile has several processes update one record of one
// file at once: no update may be lost, and no call may fail because
// another process held the lock.
//
// SQLITESTORE_PROCESSES=P,G,N sets the processes, goroutines per process
// and increments per goroutine (default 3,4,100), for measuring:
//
//	SQLITESTORE_PROCESSES=6,8,200 go test -run TestProcessesShareFile -v ./store/sqlitestore
func TestProcessesShareFile(t *testing.T) {
	p, g, n := 3, 4, 100
	if v := os.Getenv("SQLITESTORE_PROCESSES"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &p, &g, &n); err != nil {
			t.Fatalf("SQLITESTORE_PROCESSES=%q: want P,G,N", v)
		}
	}
	st := storetest.RunProcesses(t, openProcess, p, g, n)
	t.Logf("%d processes × %d goroutines × %d increments: %d store calls in %v (%.0f commits/s), %d conflicts retried; slowest call %v, p99 %v",
		st.Processes, st.Goroutines, st.Increments, st.Calls, st.Elapsed.Round(time.Millisecond), st.CommitsPerSec, st.Conflicts, st.Slowest, st.P99)
}

// The lock holder: TestLockHolder re-runs the test binary with these set,
// and the child runs TestChildHoldsLock.
const (
	holdPathEnv = "SQLITESTORE_TEST_HOLD_PATH"
)

// TestChildHoldsLock is the child of TestLockHolder; run directly it does
// nothing. It opens the file, starts a write transaction that writes a
// record and never commits, says "ready", and then hangs (until its
// standard input closes or it is killed), as a stuck process would.
func TestChildHoldsLock(t *testing.T) {
	path := os.Getenv(holdPathEnv)
	if path == "" {
		t.Skip("only runs as the child of TestLockHolder")
	}
	err := func() error {
		s, err := Open(path, WithSweepInterval(0))
		if err != nil {
			return err
		}
		defer s.Close()
		ctx := context.Background()
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO sessions (key, data, version, expiry) VALUES ('uncommitted', x'00', 1, ?)`, time.Now().Add(time.Hour).UnixMilli()); err != nil {
			return err
		}
		fmt.Println("ready")
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// TestLockHolder has another process hold the file's write lock and hang:
// reads go on (WAL); writes fail by their context's deadline, or after
// the busy timeout, with an error that is not a store answer; and once
// the holder is killed (SIGKILL, mid-transaction) the same Store writes
// again at once, without its uncommitted write.
func TestLockHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openAt(t, path, WithSweepInterval(0))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("before"), Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildHoldsLock$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdPathEnv+"="+path)
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
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v; want ready", line, err)
	}

	// Reads are not held up by a writer.
	if rec, err := s.Load(ctx, "k"); err != nil || string(rec.Data) != "before" {
		t.Fatalf("Load while another process holds the write lock = %q, %v", rec.Data, err)
	}
	// Writes give up when their context ends, well before the busy timeout.
	opCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, saveErr := s.Save(opCtx, "k", sessionkit.Record{Data: []byte("during"), Version: v, Expiry: exp})
	for op, err := range map[string]error{
		"Save": saveErr, "Touch": s.Touch(opCtx, "k", exp), "Delete": s.Delete(opCtx, "k"),
	} {
		if err == nil || errors.Is(err, sessionkit.ErrNotFound) || errors.Is(err, sessionkit.ErrConflict) {
			t.Errorf("%s while another process holds the lock: %v, want a context error", op, err)
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while another process holds the lock: %v, want the context's error", op, err)
		}
		t.Logf("%s while another process holds the lock: %v", op, err)
	}
	// Generous bound: the calls share one 300 ms deadline.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("writes took %v; the context deadline was not honoured", took)
	}
	// Without a deadline, a write fails after the busy timeout.
	short := openAt(t, path, WithSweepInterval(0), WithBusyTimeout(200*time.Millisecond))
	_, err = short.Save(ctx, "k", sessionkit.Record{Data: []byte("during"), Version: v, Expiry: exp})
	if err == nil || errors.Is(err, sessionkit.ErrConflict) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Save past the busy timeout: %v, want SQLite's busy error", err)
	}
	t.Logf("Save past the busy timeout: %v", err)

	// The holder dies mid-transaction: its write is gone, ours go through.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := s.Load(ctx, "uncommitted"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("the killed process's uncommitted record: %v, want ErrNotFound", err)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil || string(rec.Data) != "before" || rec.Version != v {
		t.Fatalf("after the holder died: %q v%d, %v; want %q v%d (nothing written meanwhile)", rec.Data, rec.Version, err, "before", v)
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("after"), Version: v, Expiry: exp}); err != nil {
		t.Fatalf("Save after the holder died: %v", err)
	}
	if err := integrity(s); err != nil {
		t.Fatal(err)
	}
}
