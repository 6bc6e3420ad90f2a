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
	"time"
)

// nodeBackend installs the npm packages of the express interop app
// (compat/express/testdata/nodeapp) and points NodeModulesEnv at them. It
// starts no server: the interop tests start the Node app themselves.
var nodeBackend = Backend{Name: "node", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
	modules, err := InstallNodeApp(ctx)
	if err != nil {
		return nil, nil, err
	}
	return []string{NodeModulesEnv + "=" + modules}, func() error { return nil }, nil
}}

// NodeAppDir returns the directory of the Node.js app the express interop
// tests run (package.json, package-lock.json, server.js).
func NodeAppDir() (string, error) {
	const rel = "compat/express/testdata/nodeapp"
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

// InstallNodeApp installs the interop app's packages with `npm ci` (exact
// versions from its package-lock.json, from the npm registry) into the
// cache directory — never into the source tree — and returns the
// node_modules directory, for NODE_PATH. The installation is named after a
// hash of package.json, package-lock.json and the Node.js major version,
// so it is reused until one of them changes. Concurrent callers wait for
// one installation.
func InstallNodeApp(ctx context.Context) (string, error) {
	src, err := NodeAppDir()
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
	fmt.Fprintf(os.Stderr, "testenv: installing the express interop app's npm packages into %s\n", dest)
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
