package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The MongoDB-protocol server for tests is FerretDB v1 with its SQLite
// backend, embedded in a small program that lives in the nested Go module
// internal/testenv/ferretdb (so FerretDB stays out of sessionkit's go.mod).
// [BuildFerretDB] compiles that program once and caches the binary; the
// first build downloads and compiles FerretDB and takes a few minutes.

// MongoServer is a running throw-away FerretDB server.
type MongoServer struct {
	// Addr is the host:port the server listens on.
	Addr string
	// URL is a mongodb:// connection string for the server (no database).
	URL string

	bin  string
	dir  string
	proc *Process
}

var mongoBackend = Backend{
	Name: "mongo",
	Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
		s, err := StartMongo(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		return []string{MongoURLEnv + "=" + s.URL}, s.Stop, nil
	},
}

// StartMongo builds (or takes from the cache) the FerretDB test server and
// starts it on a free loopback port with its data under dir. Stop it with
// Stop or Kill; Restart starts it again on the same port with the same data.
func StartMongo(ctx context.Context, dir string) (*MongoServer, error) {
	bin, err := BuildFerretDB(ctx)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &MongoServer{
		Addr: addr,
		URL:  "mongodb://" + addr + "/",
		bin:  bin,
		dir:  dir,
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *MongoServer) start(ctx context.Context) error {
	p, err := StartProcess("ferretdb", filepath.Join(s.dir, "ferretdb.log"), s.bin,
		"-listen-addr", s.Addr, "-data-dir", filepath.Join(s.dir, "data"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// Watch for an early exit (a taken port, a bad data dir) while waiting
	// for the listener.
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := WaitTCP(ctx, s.Addr); err != nil {
		_ = p.Kill()
		return fmt.Errorf("testenv: ferretdb on %s: %w\n%s", s.Addr, err, p.LogTail())
	}
	s.proc = p
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after a few seconds).
func (s *MongoServer) Stop() error {
	if s.proc == nil {
		return nil
	}
	return s.proc.Stop(5 * time.Second)
}

// Kill stops the server at once, as a crash would.
func (s *MongoServer) Kill() error {
	if s.proc == nil {
		return nil
	}
	return s.proc.Kill()
}

// Restart starts a stopped server again on the same address with the same
// data. It stops the server first if it is still running.
func (s *MongoServer) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start(ctx)
}

// FerretDBModuleDir returns the directory of the nested Go module that holds
// the FerretDB test server's source.
func FerretDBModuleDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "ferretdb")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	// Built with -trimpath or moved: ask the go command where the main
	// module is.
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			dir := filepath.Join(filepath.Dir(gomod), "internal", "testenv", "ferretdb")
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
	}
	return "", errors.New("testenv: cannot find the internal/testenv/ferretdb module (run from inside the sessionkit repository)")
}

// CacheDir returns the directory where built helper binaries are cached:
// $SESSIONKIT_TESTENV_CACHE, or sessionkit-testenv under the user's cache
// directory.
func CacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testenv: no cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(base, "sessionkit-testenv"), nil
}

// BuildFerretDB returns the path of the FerretDB test server binary,
// building it first when the cache has none for the current source. The
// cached file is named after a hash of the nested module's go.mod, go.sum
// and main.go, so a change to any of them causes a rebuild. Concurrent
// callers (test packages run in parallel) wait for one build.
func BuildFerretDB(ctx context.Context) (string, error) {
	src, err := FerretDBModuleDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("testenv: hash ferretdb source: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s/%s\n", runtime.GOOS, runtime.GOARCH)
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("testenv: create cache dir: %w", err)
	}
	bin := filepath.Join(cache, "ferretdb-"+hex.EncodeToString(h.Sum(nil))[:16])
	if isExecutable(bin) {
		return bin, nil
	}

	// One build at a time across processes.
	unlock, err := lockFile(ctx, filepath.Join(cache, "ferretdb.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(bin) { // built by another process while we waited
		return bin, nil
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("testenv: building the FerretDB test server needs the go command: %w", err)
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	defer os.Remove(tmp)
	fmt.Fprintf(os.Stderr, "testenv: building the FerretDB test server into %s (the first build downloads and compiles FerretDB: a few minutes)\n", bin)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: build the FerretDB test server (go build in %s): %w\n%s", src, err, tail(out))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("testenv: cache the FerretDB test server: %w", err)
	}
	fmt.Fprintf(os.Stderr, "testenv: built the FerretDB test server in %s\n", time.Since(start).Round(time.Second))
	return bin, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: open lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("testenv: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("testenv: wait for another FerretDB build: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
