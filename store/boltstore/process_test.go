//go:build unix

package boltstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestOpenLockedByOtherProcess re-runs this test binary as a child process
// (a second process is the only way to hold bbolt's file lock against us).
// The child runs TestChildProcess with these variables set.
const (
	childModeEnv = "BOLTSTORE_TEST_CHILD"      // "hold"
	childPathEnv = "BOLTSTORE_TEST_CHILD_PATH" // database file
)

// TestChildProcess is the child's entry point; run directly it does nothing.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("only runs as the child of TestOpenLockedByOtherProcess")
	}
	path := os.Getenv(childPathEnv)
	var err error
	switch mode {
	case "hold":
		err = childHold(path)
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

func childCmd(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	cmd := childCmd(t, "hold", path)
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
	open := func(path string) (sessionkit.Store, error) {
		// The parent may still be closing the file when a child starts.
		return Open(path, WithSweepInterval(0), WithLockTimeout(10*time.Second))
	}
	storetest.RunCrash(t, open, func(s sessionkit.Store) error {
		return s.(*Store).db.View(func(tx *bbolt.Tx) error {
			var errs []error
			for err := range tx.Check() {
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		})
	})
}
