package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// firstLine is an io.Writer that hands its first line to a channel.
type firstLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := bytes.IndexByte(w.buf.Bytes(), '\n') >= 0
	w.buf.Write(p)
	if i := bytes.IndexByte(w.buf.Bytes(), '\n'); !had && i >= 0 {
		w.line <- string(w.buf.Bytes()[:i])
	}
	return len(p), nil
}

// syncBuffer collects logs from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)

// start runs the demo with args and returns its URL and a function that
// stops it (like SIGTERM) and returns Run's error.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &firstLine{line: make(chan string, 1)}
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, out, logs) }()
	var line string
	select {
	case line = <-out.line:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned %v before listening; logs:\n%s", err, logs)
	}
	base := urlRE.FindString(line)
	if base == "" {
		cancel()
		t.Fatalf("no URL in %q", line)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", logs)
		}
	})
	return strings.TrimSuffix(base, "/"), stop
}

// TestRunRestart checks that accounts, the login and the counter survive a
// restart of the server on the same data directory, for the default
// SQLite store (with a users file), a bolt store (one file for both) and
// memory:// sessions (with a users file).
func TestRunRestart(t *testing.T) {
	tests := []struct {
		name         string
		store        string
		files        []string
		sessionsKept bool
	}{
		{"default", "", []string{"sessions.sqlite", "users.db"}, true},
		{"bolt", "bolt", []string{"sessions.db"}, true},
		{"memory", "memory://", []string{"users.db"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "nested", "data")
			args := []string{"-addr", "127.0.0.1:0", "-data", data}
			switch tt.store {
			case "":
			case "bolt":
				args = append(args, "-store", fileURL("bolt", filepath.Join(data, "sessions.db")))
			default:
				args = append(args, "-store", tt.store)
			}
			base, stop := start(t, args...)
			b := newBrowser(t, base) // cookie jars ignore the port, so the jar outlives the restart
			b.signUp("grace")
			for range 2 {
				b.expect(b.post("/counter", url.Values{"op": {"increment"}}), http.StatusSeeOther, "")
			}
			if err := stop(); err != nil {
				t.Fatalf("Run after stop: %v", err)
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(data, f)); err != nil {
					t.Fatalf("data file: %v", err)
				}
			}

			base, _ = start(t, args...) // fails if a bolt file were still locked
			b.base = base
			if tt.sessionsKept {
				if got := b.count(); got != "2" {
					t.Fatalf("counter after restart %s, want 2", got)
				}
				b.expect(b.get("/sessions"), http.StatusOK, "")
			} else {
				b.expect(b.get("/sessions"), http.StatusSeeOther, "")
			}
			b.signIn("grace") // the account survived either way
		})
	}
}

// TestRunErrors: bad command lines are refused with a message saying
// what is wrong, before anything is created in the data directory.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad store URL", []string{"-store", "nosuch://x"}, "unknown scheme"},
		{"bad secure mode", []string{"-secure-cookies", "sometimes"}, "want auto, always or never"},
		{"extra argument", []string{"serve"}, "unexpected argument"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"OIDC without a client ID", []string{"-oidc-issuer", "https://op.example"}, "needs -oidc-client-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dir := filepath.Join(t.TempDir(), "data")
			var out, logs syncBuffer
			err := Run(ctx, append([]string{"-data", dir}, tt.args...), &out, &logs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v) for a command line that is refused", err)
			}
		})
	}

	t.Run("file in use", func(t *testing.T) {
		data := t.TempDir()
		start(t, "-addr", "127.0.0.1:0", "-data", data)
		var out, logs syncBuffer
		err := Run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", data}, &out, &logs)
		// The sessions' SQLite file may be shared; the accounts' bolt
		// file may not.
		if err == nil || !strings.Contains(err.Error(), "users.db") {
			t.Fatalf("second Run on the same data = %v, want an error naming the locked file", err)
		}
	})
}

func TestFileURL(t *testing.T) {
	tests := []struct{ path, want string }{
		{"data/sessions.sqlite", "sqlite://data/sessions.sqlite"},
		{"/tmp/x y/sessions.sqlite", "sqlite:///tmp/x%20y/sessions.sqlite"},
		{"/tmp/100%/s.sqlite", "sqlite:///tmp/100%25/s.sqlite"},
		{"/tmp/q?/s.sqlite", "sqlite:///tmp/q%3F/s.sqlite"},
	}
	for _, tt := range tests {
		if got := fileURL("sqlite", tt.path); got != tt.want {
			t.Errorf("fileURL(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
