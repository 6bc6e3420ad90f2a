package sessionfiber_test

// Outside-in tests: claims of docs/frameworks.md and the package doc,
// checked from the client's side over Fiber's own server with a cookie
// jar.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v3"
	fiberrecover "github.com/gofiber/fiber/v3/middleware/recover"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/koa"
	sessionfiber "github.com/sessionkit/sessionkit/contrib/fiber"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// outsiderStore counts the loads and saves of a memstore.
type outsiderStore struct {
	*memstore.Store
	loads, saves atomic.Int64
}

func (s *outsiderStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *outsiderStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	s.saves.Add(1)
	return s.Store.Save(ctx, key, rec)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newOutsiderManager(t *testing.T) (*sessionkit.Manager, *outsiderStore, *syncBuffer) {
	t.Helper()
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	store := &outsiderStore{Store: ms}
	logs := &syncBuffer{}
	m := sessionkit.New(store)
	m.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return m, store, logs
}

type outsiderClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newOutsiderClient(t *testing.T, app *fiber.App) *outsiderClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &outsiderClient{t: t, base: serve(t, app), hc: &http.Client{Jar: jar}}
}

func (c *outsiderClient) do(method, path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(body)
}

func (c *outsiderClient) jarCookies() map[string]string {
	u, _ := url.Parse(c.base)
	out := map[string]string{}
	for _, ck := range c.hc.Jar.Cookies(u) {
		out[ck.Name] = ck.Value
	}
	return out
}

// accountMux is the doc example's accountMux: net/http routes under
// /account/ that use the session.
func accountMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /account/visits", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "visits")
		if err == nil {
			err = s.Set("visits", n+1)
		}
		if err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	})
	mux.HandleFunc("GET /account/visits", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "visits")
		fmt.Fprintf(w, "%d visits", n)
	})
	mux.HandleFunc("POST /account/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Destroy(); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// TestOutsiderFiberDocExample: the doc's app — a plain Fiber route beside
// net/http routes with sessions — over Fiber's server: the plain route
// never touches the session (no store call, no cookie, no Vary), the
// session routes count, a response that sets the cookie is private and
// one that used the session varies on Cookie.
func TestOutsiderFiberDocExample(t *testing.T) {
	sessions, store, _ := newOutsiderManager(t)
	app := fiber.New()
	app.Get("/health", func(c fiber.Ctx) error { return c.SendString("ok") })
	app.All("/account/*", sessionfiber.Handler(sessions, accountMux()))
	c := newOutsiderClient(t, app)

	resp, body := c.do("GET", "/health")
	if body != "ok" || len(resp.Cookies()) != 0 || len(resp.Header.Values("Vary")) != 0 || store.loads.Load()+store.saves.Load() != 0 {
		t.Errorf("GET /health: %q, cookies %v, Vary %q, %d store calls; want ok and nothing of the session", body, resp.Cookies(), resp.Header.Values("Vary"), store.loads.Load()+store.saves.Load())
	}
	for i := 1; i <= 2; i++ {
		resp, body := c.do("POST", "/account/visits")
		if want := fmt.Sprintf("visit %d", i); body != want {
			t.Errorf("POST /account/visits #%d = %q, want %q", i, body, want)
		}
		if i == 1 && (resp.Header.Get("Cache-Control") != "private" || !slices.Contains(resp.Header.Values("Vary"), "Cookie")) {
			t.Errorf("new session's response: Cache-Control %q, Vary %q; want private and Cookie", resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"))
		}
	}
	resp, body = c.do("GET", "/account/visits")
	if body != "2 visits" || resp.Header.Get("Cache-Control") != "public, max-age=60" || !slices.Contains(resp.Header.Values("Vary"), "Cookie") || len(resp.Cookies()) != 0 {
		t.Errorf("GET /account/visits: %q, Cache-Control %q, Vary %q, cookies %v", body, resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"), resp.Cookies())
	}
	if resp, _ := c.do("POST", "/account/logout"); resp.StatusCode != http.StatusNoContent || len(c.jarCookies()) != 0 {
		t.Errorf("logout = %d, jar still holds %v", resp.StatusCode, c.jarCookies())
	}
}

// TestOutsiderFiberKoaCookies: a Manager whose session is two cookies
// (koa-session's cookie mode: koa.sess and its koa.sess.sig) under
// sessionfiber.Handler: Fiber's copy of the response carries both, and
// clearing the session clears both in the browser.
func TestOutsiderFiberKoaCookies(t *testing.T) {
	m, err := koa.NewCookieMode(koa.Options{Keys: []string{"keyboard cat"}})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.All("/account/*", sessionfiber.Handler(m, accountMux()))
	c := newOutsiderClient(t, app)
	c.do("POST", "/account/visits")
	if _, body := c.do("POST", "/account/visits"); body != "visit 2" {
		t.Errorf("second visit = %q, want visit 2", body)
	}
	if got := c.jarCookies(); got["koa.sess"] == "" || got["koa.sess.sig"] == "" {
		t.Errorf("jar after a koa-session write: %v; want koa.sess and koa.sess.sig", got)
	}
	c.do("POST", "/account/logout")
	if got := c.jarCookies(); len(got) != 0 {
		t.Errorf("jar after logout: %v; want both cookies cleared", got)
	}
}

// TestOutsiderFiberAfterHandler: docs/frameworks.md "Using the session
// after its middleware returned": under Fiber too, where the request's
// context is still open, every change and Save return
// ErrSessionAfterHandler and nothing is saved; reads see the session as
// the request left it, and a session the request never used is not
// loaded afterwards.
func TestOutsiderFiberAfterHandler(t *testing.T) {
	for _, used := range []bool{true, false} {
		t.Run(fmt.Sprintf("used=%v", used), func(t *testing.T) {
			m, store, logs := newOutsiderManager(t)
			type result struct {
				read               int
				readErr, set, save error
			}
			results := make(chan result, 1)
			done := make(chan struct{})
			mux := accountMux()
			mux.HandleFunc("POST /account/spawn", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if used {
					sessionkit.Get[int](s, "visits")
				}
				go func() {
					<-done
					n, readErr := sessionkit.Get[int](s, "visits")
					set := s.Set("visits", 100)
					results <- result{n, readErr, set, s.Save()}
				}()
				w.WriteHeader(http.StatusNoContent)
			})
			app := fiber.New()
			app.All("/account/*", sessionfiber.Handler(m, mux))
			c := newOutsiderClient(t, app)
			c.do("POST", "/account/visits")
			loads, saves := store.loads.Load(), store.saves.Load()
			if resp, _ := c.do("POST", "/account/spawn"); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST /account/spawn = %d", resp.StatusCode)
			}
			close(done)
			res := <-results
			if !errors.Is(res.set, sessionkit.ErrSessionAfterHandler) || !errors.Is(res.save, sessionkit.ErrSessionAfterHandler) {
				t.Errorf("after the request: Set %v, Save %v; want ErrSessionAfterHandler", res.set, res.save)
			}
			wantLoads := int64(0)
			if used {
				wantLoads = 1
				if res.read != 1 || res.readErr != nil {
					t.Errorf("read after the request: %d, %v; want 1", res.read, res.readErr)
				}
			} else if !errors.Is(res.readErr, sessionkit.ErrSessionAfterHandler) {
				t.Errorf("read of a session first used after the request: %d, %v; want ErrSessionAfterHandler", res.read, res.readErr)
			}
			if n := store.loads.Load() - loads; n != wantLoads {
				t.Errorf("%d loads, want %d (none after the request)", n, wantLoads)
			}
			if n := store.saves.Load() - saves; n != 0 {
				t.Errorf("%d saves after the request, want 0", n)
			}
			if n := strings.Count(logs.String(), "session used after its Manager.Handler returned"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logs)
			}
			if _, body := c.do("GET", "/account/visits"); body != "1 visits" {
				t.Errorf("read back %q, want the request's value", body)
			}
		})
	}
}

// TestOutsiderFiberPanic: docs/frameworks.md "Panics": a net/http handler
// that panics under sessionfiber.Handler, with Fiber's recover middleware
// before it, gets recover's 500 and commits nothing.
func TestOutsiderFiberPanic(t *testing.T) {
	m, store, logs := newOutsiderManager(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /account/panic", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("k", "before the panic")
		panic("handler bug")
	})
	app := fiber.New()
	app.Use(fiberrecover.New())
	app.All("/account/*", sessionfiber.Handler(m, mux))
	c := newOutsiderClient(t, app)
	resp, _ := c.do("POST", "/account/panic")
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 0 || store.saves.Load() != 0 {
		t.Errorf("POST /account/panic = %d, cookies %v, %d saves; want recover's 500 and nothing committed", resp.StatusCode, resp.Cookies(), store.saves.Load())
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a recovered panic logged an error:\n%s", logs)
	}
}

// TestOutsiderFiberFlush: the session commits when the handler flushes
// (Session's doc), also under Fiber's buffering adaptor: the change made
// before the flush arrives with its cookie, and a streamed body follows.
func TestOutsiderFiberFlush(t *testing.T) {
	m, _, logs := newOutsiderManager(t)
	mux := accountMux()
	mux.HandleFunc("POST /account/stream", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("visits", 41); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "part 1;")
		http.NewResponseController(w).Flush()
		fmt.Fprint(w, "part 2")
	})
	app := fiber.New()
	app.All("/account/*", sessionfiber.Handler(m, mux))
	c := newOutsiderClient(t, app)
	resp, body := c.do("POST", "/account/stream")
	if body != "part 1;part 2" || len(resp.Cookies()) != 1 {
		t.Errorf("streamed response %q, cookies %v; want both parts and the session cookie", body, resp.Cookies())
	}
	if _, body := c.do("POST", "/account/visits"); body != "visit 42" {
		t.Errorf("next visit = %q, want visit 42", body)
	}
	if strings.Contains(logs.String(), "level=") {
		t.Errorf("logs:\n%s", logs)
	}
}
