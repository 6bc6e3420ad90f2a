package reliability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// quietLogger drops the Manager's logs: the tests provoke errors on
// purpose and assert on the answers instead.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newManager returns a Manager over store configured for the tests.
func newManager(store sessionkit.Store) *sessionkit.Manager {
	m := sessionkit.New(store)
	m.Logger = quietLogger()
	if os.Getenv("REL_DEBUG") != "" {
		m.Logger = slog.Default()
	}
	m.OpTimeout = time.Second
	return m
}

// appHandler is the application every test drives:
//
//	/incr      n := n+1, answers n
//	/get       answers n (0 when unset)
//	/set?k=K   sets K to true and adds one to count (Update), answers "ok"
//	/count     answers count (0 when unset)
//	/keys      answers the session's keys, comma-separated and sorted
func appHandler(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "n")
		if err == nil {
			err = s.Set("n", n+1)
		}
		if err == nil {
			// Commit before answering, so that a 200 means stored.
			err = s.Save()
		}
		if err != nil {
			http.Error(w, "app: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		if err != nil {
			http.Error(w, "app: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		err := s.Set(r.URL.Query().Get("k"), true)
		if err == nil {
			_, err = sessionkit.Update(s, "count", func(n int) (int, error) { return n + 1, nil })
		}
		if err == nil {
			err = s.Save()
		}
		if err != nil {
			http.Error(w, "app: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "count")
		if err != nil {
			http.Error(w, "app: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		keys := sessionkit.From(r.Context()).Keys()
		slices.Sort(keys)
		io.WriteString(w, strings.Join(keys, ","))
	})
	return m.Handler(mux)
}

// newTransport returns a keep-alive transport for up to conns parallel
// requests to one server.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
}

// browser is one client with its own session cookie.
type browser struct {
	hc     *http.Client
	base   string
	cookie string // "name=value" of the session cookie, "" before the first
}

func newBrowser(tr http.RoundTripper, base string) *browser {
	return &browser{hc: &http.Client{Transport: tr, Timeout: 20 * time.Second}, base: base}
}

// answer is one response: the status, the body and the session cookie it
// set ("" if none).
type answer struct {
	code   int
	body   string
	cookie string
}

// get sends GET path with the browser's cookie and does not adopt the
// answer's cookie.
func (b *browser) get(ctx context.Context, path string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", b.cookie)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			a.cookie = c.Name + "=" + c.Value
			if c.MaxAge < 0 || c.Value == "" {
				a.cookie = ""
			}
		}
	}
	return a, nil
}

// do is get, keeping the cookie the answer set.
func (b *browser) do(ctx context.Context, path string) (answer, error) {
	a, err := b.get(ctx, path)
	if err == nil && a.cookie != "" {
		b.cookie = a.cookie
	}
	return a, err
}

// mustDo is do that fails the test unless the answer is 200.
func (b *browser) mustDo(t testing.TB, path string) string {
	t.Helper()
	a, err := b.do(t.Context(), path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if a.code != http.StatusOK {
		t.Fatalf("GET %s = %d %q", path, a.code, a.body)
	}
	return a.body
}

// serve runs h on a loopback test server closed at the end of the test.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// settleGoroutines waits until at most base goroutines run, and fails the
// test with their stacks if that does not happen within a generous bound
// (the bound only limits how long a leak takes to report).
func settleGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
