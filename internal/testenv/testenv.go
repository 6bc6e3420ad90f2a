// Package testenv starts throw-away backend servers for tests and hands their
// addresses to test code.
//
// Two ways in:
//
//   - The runner (internal/testenv/cmd/withbackends, used by `make test`)
//     starts every backend once, on free loopback ports with data in temp
//     dirs, exports their addresses in environment variables, runs a command
//     (go test) and stops the servers when it exits.
//   - Tests read those variables with [Getenv]. When a variable is unset the
//     test is skipped with a message naming it, or fails when
//     SESSIONKIT_REQUIRE_BACKENDS is set (CI sets it), so a missing backend
//     can never pass silently.
//
// Fault tests that must stop and restart a server start a private one
// themselves with the Start functions of this package.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns "backend not available" skips
// into failures.
const RequireEnv = "SESSIONKIT_REQUIRE_BACKENDS"

// Environment variables through which the runner passes backend addresses.
const (
	RedisURLEnv      = "SESSIONKIT_REDIS_URL"      // redis://127.0.0.1:PORT
	RedisSentinelEnv = "SESSIONKIT_REDIS_SENTINEL" // master@host:port,host:port,...
	RedisClusterEnv  = "SESSIONKIT_REDIS_CLUSTER"  // host:port,host:port,...
	PostgresURLEnv   = "SESSIONKIT_POSTGRES_URL"   // postgres://...
	MySQLDSNEnv      = "SESSIONKIT_MYSQL_DSN"      // go-sql-driver DSN
	MongoURLEnv      = "SESSIONKIT_MONGO_URL"      // mongodb://127.0.0.1:PORT/
	RealMongoURLEnv  = "SESSIONKIT_REAL_MONGO_URL" // optional real MongoDB
	ChromiumEnv      = "SESSIONKIT_CHROMIUM"       // path to a chromium binary
	NodeModulesEnv   = "SESSIONKIT_NODE_MODULES"   // installed packages of the express interop app

	KoaNodeModulesEnv           = "SESSIONKIT_KOA_NODE_MODULES"            // installed packages of the koa interop app
	CookieSessionNodeModulesEnv = "SESSIONKIT_COOKIE_SESSION_NODE_MODULES" // installed packages of the cookie-session interop app
	CacheDirEnv                 = "SESSIONKIT_TESTENV_CACHE"               // where built helper binaries and npm packages are cached
)

// Required reports whether backend skips must fail.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0" && v != "false"
}

// Getenv returns the value of the environment variable name. When it is
// empty the test is skipped with a message naming the variable, or fails if
// [Required] is true.
func Getenv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: run `make test` to start the test backends, or set it by hand", name)
	if Required() {
		t.Fatalf("%s (and %s requires every backend)", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// SkipOrFail skips the test with reason, or fails it when [Required].
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (and %s requires every backend)", reason, RequireEnv)
	}
	t.Skip(reason)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. The port is
// free at the time of the call; a server started right after will almost
// always get it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts TCP connections or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s did not accept connections: %w (last error: %v)", addr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FindBinary looks for an executable by name on PATH and then in extraDirs
// (glob patterns allowed, e.g. "/usr/lib/postgresql/*/bin"). When it is
// missing and aptPackage is not empty, it installs that Debian package with
// apt-get if running as root, and otherwise returns an error that says
// exactly what to install.
func FindBinary(name, aptPackage string, extraDirs ...string) (string, error) {
	if p := lookBinary(name, extraDirs); p != "" {
		return p, nil
	}
	if aptPackage == "" {
		return "", fmt.Errorf("testenv: %s not found on PATH or in %v", name, extraDirs)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("testenv: %s not found: install the Debian package %q (apt-get install %s)", name, aptPackage, aptPackage)
	}
	if err := AptInstall(aptPackage); err != nil {
		return "", err
	}
	if p := lookBinary(name, extraDirs); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("testenv: %s still not found after installing %s", name, aptPackage)
}

func lookBinary(name string, extraDirs []string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, pattern := range extraDirs {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	return ""
}

// AptInstall installs Debian packages non-interactively (root only).
func AptInstall(packages ...string) error {
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	update := exec.Command("apt-get", "update", "-q")
	update.Env = env
	if out, err := update.CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: apt-get update: %w\n%s", err, tail(out))
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, packages...)
	install := exec.Command("apt-get", args...)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: apt-get install %s: %w\n%s", strings.Join(packages, " "), err, tail(out))
	}
	return nil
}

func tail(b []byte) string {
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Process is a running server process started by this package.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// StartProcess starts bin with args, its output appended to logPath. The
// process is killed if the starting process dies (Linux Pdeathsig), so a
// crashed test run leaves no servers behind.
func StartProcess(name, logPath, bin string, args ...string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
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

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// LogTail returns the last part of the process's log, for error messages.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.log)
	return tail(b)
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILLs.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	return p.Kill()
}

// Kill stops the process at once (SIGKILL) and waits for it.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// Backend is a throw-away server the runner can start for a whole test run.
type Backend struct {
	// Name is what the runner's -only flag and its log lines use.
	Name string
	// Start starts the server with its files under dir and returns the
	// environment variables (NAME=value) that point tests at it, and a
	// function that stops it and releases everything it holds.
	Start func(ctx context.Context, dir string) (env []string, stop func() error, err error)
}

// Backends lists every backend the runner knows, in start order. Each
// backend lives in its own file of this package.
func Backends() []Backend {
	return backends
}
