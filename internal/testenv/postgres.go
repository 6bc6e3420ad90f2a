package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBackend runs one throw-away PostgreSQL server for the whole test
// run (Debian package postgresql).
var postgresBackend = Backend{Name: "postgres", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
	s, err := StartPostgres(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	return []string{PostgresURLEnv + "=" + s.URL()}, s.Close, nil
}}

// PostgresServer is a throw-away PostgreSQL server listening on 127.0.0.1
// with trust authentication for the superuser "postgres", tuned for tests
// (fsync off: committed data survives a killed server, not a machine crash). Its data survives Stop, Kill and Restart; Close removes it.
//
// PostgreSQL refuses to run as root. When the test runs as root the server
// (and initdb) run as the "postgres" system user (or "nobody" when there is
// none), with the data directory in a fresh temp directory that user owns.
type PostgresServer struct {
	// Addr is host:port. It stays the same across Kill and Restart.
	Addr string

	bin     string // the postgres binary
	dataDir string
	rmDir   string // removed by Close
	logPath string
	cred    *syscall.Credential
	args    []string

	mu   sync.Mutex
	proc *Process
}

// URL returns a postgres:// URL for the "postgres" database.
func (s *PostgresServer) URL() string {
	return "postgres://postgres@" + s.Addr + "/postgres?sslmode=disable"
}

// StartPostgres initialises a cluster under a temp directory (logs go to
// dir), starts the server on a free port and waits until it accepts
// queries.
func StartPostgres(ctx context.Context, dir string) (*PostgresServer, error) {
	bin, err := FindBinary("postgres", "postgresql", "/usr/lib/postgresql/*/bin")
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	// initdb must come from the same installation as postgres.
	initdb := filepath.Join(filepath.Dir(bin), "initdb")
	if _, err := os.Stat(initdb); err != nil {
		if initdb, err = FindBinary("initdb", "postgresql", "/usr/lib/postgresql/*/bin"); err != nil {
			return nil, err
		}
	}
	cred, err := unprivilegedCredential("postgres")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: postgres dir: %w", err)
	}
	s := &PostgresServer{bin: bin, cred: cred, logPath: filepath.Join(dir, "postgres.log")}
	base := filepath.Join(dir, "pg")
	if cred != nil {
		// dir and its parents may not be reachable by the server's user
		// (t.TempDir and the runner make 0700 directories), so keep the
		// data in a directory of its own under the system temp dir.
		if base, err = os.MkdirTemp("", "sessionkit-postgres-"); err != nil {
			return nil, fmt.Errorf("testenv: postgres dir: %w", err)
		}
		s.rmDir = base
		if err := os.Chown(base, int(cred.Uid), int(cred.Gid)); err != nil {
			s.Close()
			return nil, fmt.Errorf("testenv: postgres dir: %w", err)
		}
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("testenv: postgres dir: %w", err)
	}
	s.dataDir = filepath.Join(base, "data")

	cmd := exec.CommandContext(ctx, initdb, "-D", s.dataDir, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("testenv: initdb: %w\n%s", err, tail(out))
	}

	port, err := FreePort()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.args = []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=64MB",
		"-c", "log_min_messages=warning",
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(ctx); err != nil {
		s.rm()
		return nil, err
	}
	return s, nil
}

// unprivilegedCredential returns nil when not running as root, and
// otherwise the credential of the named system user (or nobody).
func unprivilegedCredential(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("testenv: running as root and neither user %q nor nobody exists to run the server as", name)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testenv: user %s: %w", u.Username, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// start runs the server and waits until it answers a query. s.mu is held.
func (s *PostgresServer) start(ctx context.Context) error {
	p, err := startProcessAs("postgres", s.logPath, filepath.Dir(s.dataDir), s.cred, s.bin, s.args...)
	if err != nil {
		return err
	}
	s.proc = p
	if err := waitPostgres(ctx, p, s.URL()); err != nil {
		p.Kill()
		return err
	}
	return nil
}

func waitPostgres(ctx context.Context, p *Process, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if p.Exited() {
			return fmt.Errorf("testenv: postgres exited while starting:\n%s", p.LogTail())
		}
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			_, err = c.Exec(ctx, "SELECT 1")
			c.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: postgres did not become ready: %w (last error: %v)\n%s", ctx.Err(), err, p.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down with PostgreSQL's "fast" mode (SIGINT: abort
// open transactions, disconnect clients, checkpoint), then SIGKILL after
// ten seconds. The data stays; Restart starts it again.
func (s *PostgresServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stop()
}

func (s *PostgresServer) stop() error {
	if s.proc == nil || s.proc.Exited() {
		return nil
	}
	_ = s.proc.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.proc.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	return s.kill()
}

// Kill stops the server and all its backends at once (SIGKILL), as a
// crash would. Restart runs crash recovery.
func (s *PostgresServer) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kill()
}

// kill SIGKILLs the postmaster and its children, which PostgreSQL puts in
// sessions of their own (so a process-group signal misses them), and waits
// until they are gone so that a restart does not find their shared memory
// still attached.
func (s *PostgresServer) kill() error {
	if s.proc == nil || s.proc.Exited() {
		return nil
	}
	children := childPIDs(s.proc.cmd.Process.Pid)
	err := s.proc.Kill()
	for _, pid := range children {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range children {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return err
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _ := procStat(child); ppid == pid {
			pids = append(pids, child)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, state := procStat(pid)
	return state != 0 && state != 'Z'
}

// procStat returns the parent pid and state letter from /proc/pid/stat
// (zeroes when the process does not exist).
func procStat(pid int) (ppid int, state byte) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0][0]
}

// Restart starts the server again on the same port and data after Stop or
// Kill, and waits until it answers a query.
func (s *PostgresServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.Exited() {
		return errors.New("testenv: restart postgres: still running")
	}
	return s.start(ctx)
}

// Close stops the server and removes its data.
func (s *PostgresServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.stop()
	s.rm()
	return err
}

func (s *PostgresServer) rm() {
	if s.rmDir != "" {
		os.RemoveAll(s.rmDir)
	}
}

// startProcessAs is StartProcess with a working directory and, when cred
// is not nil, another user to run as. The parent-death signal is set after
// the user change, so it survives it.
func startProcessAs(name, logPath, dir string, cred *syscall.Credential, bin string, args ...string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("testenv: start %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pause freezes the server and all its backends (SIGSTOP): connections
// stay open but nothing answers, as with a hung server or a network
// partition. It returns once every thread has stopped. Resume undoes it.
func (s *PostgresServer) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.signalAll(syscall.SIGSTOP); err != nil {
		return err
	}
	pid := s.proc.cmd.Process.Pid
	return waitFrozen(append(childPIDs(pid), pid))
}

// Resume continues a paused server (SIGCONT).
func (s *PostgresServer) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signalAll(syscall.SIGCONT)
}

// signalAll signals the postmaster and every child it has.
func (s *PostgresServer) signalAll(sig syscall.Signal) error {
	if err := signalGroup(s.proc, sig); err != nil {
		return err
	}
	for _, pid := range childPIDs(s.proc.cmd.Process.Pid) {
		_ = syscall.Kill(pid, sig)
	}
	return nil
}

// signalGroup signals p's process group (StartProcess and startProcessAs
// put each server in its own).
func signalGroup(p *Process, sig syscall.Signal) error {
	if p == nil || p.Exited() {
		return errors.New("testenv: server is not running")
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("testenv: signal %s: %w", p.Name, err)
	}
	return nil
}
