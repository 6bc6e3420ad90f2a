package testenv

import (
	"bufio"
	"bytes"
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
	"sync"
	"syscall"
	"testing"
	"time"
)

// NodeApp is a Node.js app that interop tests run beside a Go app, with
// its npm packages pinned by its package-lock.json.
type NodeApp struct {
	// Dir is the app's directory, relative to the repository root.
	Dir string
	// Env is the variable through which the runner passes the app's
	// installed node_modules directory (for NODE_PATH).
	Env string
}

// NodeApps are the interop apps the node backend installs.
var NodeApps = []NodeApp{
	{Dir: "compat/express/testdata/nodeapp", Env: NodeModulesEnv},
	{Dir: "compat/koa/testdata/nodeapp", Env: KoaNodeModulesEnv},
	{Dir: "compat/cookiesession/testdata/nodeapp", Env: CookieSessionNodeModulesEnv},
}

// nodeBackend installs the npm packages of every interop app (NodeApps)
// and points each app's variable at them. It starts no server: the
// interop tests start their Node app themselves.
var nodeBackend = Backend{Name: "node", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
	var env []string
	for _, app := range NodeApps {
		modules, err := InstallNodeApp(ctx, app.Dir)
		if err != nil {
			return nil, nil, err
		}
		env = append(env, app.Env+"="+modules)
	}
	return env, func() error { return nil }, nil
}}

// NodeAppDir returns the directory of the Node.js app at rel (relative to
// the repository root; it holds package.json, package-lock.json and
// server.js).
func NodeAppDir(rel string) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(rel))
		if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
			return filepath.Clean(dir), nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			dir := filepath.Join(filepath.Dir(gomod), filepath.FromSlash(rel))
			if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
				return dir, nil
			}
		}
	}
	return "", errors.New("testenv: cannot find " + rel + " (run from inside the sessionkit repository)")
}

// InstallNodeApp installs the packages of the interop app at rel (see
// NodeAppDir) with `npm ci` (exact
// versions from its package-lock.json, from the npm registry) into the
// cache directory — never into the source tree — and returns the
// node_modules directory, for NODE_PATH. The installation is named after a
// hash of package.json, package-lock.json and the Node.js major version,
// so it is reused until one of them changes. Concurrent callers wait for
// one installation.
func InstallNodeApp(ctx context.Context, rel string) (string, error) {
	src, err := NodeAppDir(rel)
	if err != nil {
		return "", err
	}
	node, err := FindBinary("node", "nodejs")
	if err != nil {
		return "", err
	}
	npm, err := FindBinary("npm", "npm")
	if err != nil {
		return "", err
	}
	ver, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("testenv: node --version: %w", err)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(ver)), ".")

	h := sha256.New()
	files := map[string][]byte{}
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("testenv: read node app: %w", err)
		}
		files[name] = b
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "node %s\n", major)
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("testenv: create cache dir: %w", err)
	}
	dest := filepath.Join(cache, "node-"+hex.EncodeToString(h.Sum(nil))[:16])
	modules := filepath.Join(dest, "node_modules")
	done := filepath.Join(dest, ".installed")
	if _, err := os.Stat(done); err == nil {
		return modules, nil
	}

	unlock, err := lockFile(ctx, filepath.Join(cache, "node.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(done); err == nil { // installed by another process meanwhile
		return modules, nil
	}

	tmp := dest + ".tmp" + strconv.Itoa(os.Getpid())
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("testenv: node app: %w", err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return "", fmt.Errorf("testenv: node app: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "testenv: installing the npm packages of %s into %s\n", rel, dest)
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: npm ci for %s: %w\n%s", src, err, tail(out))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".installed"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("testenv: node app: %w", err)
	}
	os.RemoveAll(dest) // a partial install left by a killed run
	if err := os.Rename(tmp, dest); err != nil {
		return "", fmt.Errorf("testenv: node app: %w", err)
	}
	fmt.Fprintf(os.Stderr, "testenv: installed the npm packages in %s\n", time.Since(start).Round(time.Second))
	return modules, nil
}

// StartNodeApp runs the Node.js script of an interop app with the
// packages the runner installed (modulesEnv names the variable, see
// NodeApps) and the given extra environment (NAME=value; PORT is set
// here), waits until it prints "listening", and returns its base URL,
// http://127.0.0.1:PORT. The process is stopped when the test ends (and
// dies with the test binary). Without the variable or node the test is
// skipped, or fails under RequireEnv.
func StartNodeApp(t testing.TB, modulesEnv, script string, env ...string) string {
	t.Helper()
	modules := Getenv(t, modulesEnv)
	node, err := exec.LookPath("node")
	if err != nil {
		SkipOrFail(t, "node is not installed")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+modules, "PORT="+strconv.Itoa(port)), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if !ok && sc.Text() == "listening" {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("%s exited before listening:\n%s", script, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start:\n%s", script, stderr.String())
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
