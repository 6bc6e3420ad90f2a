package sessionecho_test

// Outside-in tests: claims of docs/frameworks.md and the package doc,
// checked from the client's side over real HTTP with a cookie jar.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionecho "github.com/sessionkit/sessionkit/contrib/echo"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// outsiderStore counts the saves of a memstore.
type outsiderStore struct {
	*memstore.Store
	saves, loads atomic.Int64
	down         atomic.Bool
}

var errDown = errors.New("outsider: store down")

func (s *outsiderStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *outsiderStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	s.saves.Add(1)
	if s.down.Load() {
		return 0, errDown
	}
	return s.Store.Save(ctx, key, rec)
}

// syncBuffer is a log sink safe for the handler's goroutines.
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

type outsiderEnv struct {
	m      *sessionkit.Manager
	store  *outsiderStore
	logs   *syncBuffer
	mu     sync.Mutex
	events []sessionkit.Event
}

func newOutsiderEnv(t *testing.T) *outsiderEnv {
	t.Helper()
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	e := &outsiderEnv{store: &outsiderStore{Store: ms}, logs: &syncBuffer{}}
	e.m = sessionkit.New(e.store)
	e.m.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.m.Observer = func(ev sessionkit.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, ev)
	}
	return e
}

// errorEvents counts the EventErrors wrapping target.
func (e *outsiderEnv) errorEvents(target error) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev.Kind == sessionkit.EventError && errors.Is(ev.Err, target) {
			n++
		}
	}
	return n
}

type outsiderClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newOutsiderClient(t *testing.T, h http.Handler) *outsiderClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &outsiderClient{t: t, base: srv.URL, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *outsiderClient) do(method, path string, header http.Header) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
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

func (c *outsiderClient) jarCookies() []*http.Cookie {
	u, _ := url.Parse(c.base)
	return c.hc.Jar.Cookies(u)
}

// TestOutsiderEchoPanics: docs/frameworks.md "Panics". A recovery
// mounted before the session middleware gets the panic: nothing the
// handler changed is committed (no cookie, no save) and a goroutine the
// handler started is refused afterwards; one mounted after it ends the
// request normally, so the change is committed with the recovery's
// error response.
func TestOutsiderEchoPanics(t *testing.T) {
	t.Run("RecoverBefore", func(t *testing.T) {
		env := newOutsiderEnv(t)
		late := make(chan error, 1)
		release := make(chan struct{})
		app := echo.New()
		app.Use(recoverMiddleware, sessionecho.Middleware(env.m))
		app.POST("/panic", func(c *echo.Context) error {
			s := sessionecho.From(c)
			s.Set("k", "before the panic")
			go func() {
				<-release
				late <- s.Set("k", "from a goroutine")
			}()
			panic("handler bug")
		})
		c := newOutsiderClient(t, app)
		resp, _ := c.do("POST", "/panic", nil)
		close(release)
		if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 0 {
			t.Errorf("POST /panic = %d, cookies %v; want Recover's 500 without a cookie", resp.StatusCode, resp.Cookies())
		}
		if err := <-late; !errors.Is(err, sessionkit.ErrSessionAfterHandler) {
			t.Errorf("the goroutine's change after the panic: %v, want ErrSessionAfterHandler", err)
		}
		if n := env.store.saves.Load(); n != 0 {
			t.Errorf("%d saves after a panicking handler, want 0", n)
		}
		if strings.Contains(env.logs.String(), "bypass") || env.errorEvents(sessionkit.ErrResponseBypassed) != 0 {
			t.Errorf("Recover's response was reported as a bypass:\n%s", env.logs)
		}
	})
	t.Run("RecoverAfter", func(t *testing.T) {
		env := newOutsiderEnv(t)
		app := echo.New()
		app.Use(sessionecho.Middleware(env.m), recoverMiddleware)
		app.POST("/panic", func(c *echo.Context) error {
			sessionecho.From(c).Set("k", "before the panic")
			panic("handler bug")
		})
		app.GET("/get", func(c *echo.Context) error {
			v, err := sessionkit.Get[string](sessionecho.From(c), "k")
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, v)
		})
		c := newOutsiderClient(t, app)
		resp, _ := c.do("POST", "/panic", nil)
		if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 1 {
			t.Fatalf("POST /panic = %d, cookies %v; want Recover's 500 with the session's cookie", resp.StatusCode, resp.Cookies())
		}
		if _, body := c.do("GET", "/get", nil); body != "before the panic" {
			t.Errorf("read back %q, want the change made before the panic", body)
		}
	})
}

// TestOutsiderEchoAfterHandler: "Using the session after its middleware
// returned": every change and Save return ErrSessionAfterHandler, logged
// and observed once per request, nothing is saved, and reads still see
// the session as the request left it; a session the request never used
// is not loaded afterwards (its Get returns ErrSessionAfterHandler too).
func TestOutsiderEchoAfterHandler(t *testing.T) {
	for _, used := range []bool{true, false} {
		t.Run(fmt.Sprintf("used=%v", used), func(t *testing.T) {
			env := newOutsiderEnv(t)
			type result struct {
				read               string
				readErr, set, save error
			}
			results := make(chan result, 1)
			app := echo.New()
			app.Use(sessionecho.Middleware(env.m))
			app.POST("/seed", func(c *echo.Context) error {
				if err := sessionecho.From(c).Set("k", "seeded"); err != nil {
					return err
				}
				return c.NoContent(http.StatusNoContent)
			})
			done := make(chan struct{})
			app.POST("/spawn", func(c *echo.Context) error {
				s := sessionecho.From(c)
				if used {
					sessionkit.Get[string](s, "k")
				}
				go func() {
					<-done
					v, readErr := sessionkit.Get[string](s, "k")
					set := s.Set("k", "late")
					s.Set("other", 1)
					results <- result{v, readErr, set, s.Save()}
				}()
				return c.NoContent(http.StatusNoContent)
			})
			c := newOutsiderClient(t, app)
			c.do("POST", "/seed", nil)
			saves, loads := env.store.saves.Load(), env.store.loads.Load()
			if resp, _ := c.do("POST", "/spawn", nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST /spawn = %d", resp.StatusCode)
			}
			close(done)
			res := <-results
			if !errors.Is(res.set, sessionkit.ErrSessionAfterHandler) || !errors.Is(res.save, sessionkit.ErrSessionAfterHandler) {
				t.Errorf("after the request: Set %v, Save %v; want ErrSessionAfterHandler for both", res.set, res.save)
			}
			if used && (res.read != "seeded" || res.readErr != nil) {
				t.Errorf("read after the request: %q, %v; want the session as the request left it", res.read, res.readErr)
			}
			if !used && !errors.Is(res.readErr, sessionkit.ErrSessionAfterHandler) {
				t.Errorf("read of a session first used after the request: %q, %v; want ErrSessionAfterHandler", res.read, res.readErr)
			}
			wantLoads := int64(0)
			if used {
				wantLoads = 1
			}
			if n := env.store.loads.Load() - loads; n != wantLoads {
				t.Errorf("%d loads, want %d (none after the request)", n, wantLoads)
			}
			if n := env.store.saves.Load() - saves; n != 0 {
				t.Errorf("%d saves after the handler, want 0", n)
			}
			if n := env.errorEvents(sessionkit.ErrSessionAfterHandler); n != 1 {
				t.Errorf("ErrSessionAfterHandler observed %d times, want once", n)
			}
			if n := strings.Count(env.logs.String(), "session used after its Manager.Handler returned"); n != 1 {
				t.Errorf("ErrSessionAfterHandler logged %d times, want once:\n%s", n, env.logs)
			}
		})
	}
}

// recoverMiddleware is what echo/v5/middleware.Recover does (turn a panic
// into the handler's error, for Echo's error handler to answer 500),
// without the middleware package's golang.org/x/time dependency.
func recoverMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("[PANIC RECOVER] %v", r)
			}
		}()
		return next(c)
	}
}

type outsiderUser struct{ Name string }

// TestOutsiderEchoRequire: the package doc's Require answers API requests
// 401 with JSON and pages with a redirect to the login page; Login, User
// and Logout work on *echo.Context, Logout clearing the cookie.
func TestOutsiderEchoRequire(t *testing.T) {
	env := newOutsiderEnv(t)
	users := auth.New(env.m, func(u outsiderUser) string { return u.Name },
		func(_ context.Context, key string) (outsiderUser, error) { return outsiderUser{key}, nil })
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	app.POST("/login", func(c *echo.Context) error {
		if err := sessionecho.Login(c, users, outsiderUser{"ann"}); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/account")
	})
	app.POST("/logout", func(c *echo.Context) error {
		if err := sessionecho.Logout(c, users); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	app.GET("/account", func(c *echo.Context) error {
		u, err := sessionecho.User(c, users)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, "hello "+u.Name)
	}, sessionecho.Require(users))
	c := newOutsiderClient(t, app)

	resp, body := c.do("GET", "/account", http.Header{"Accept": {"application/json"}})
	var v map[string]any
	if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(body), &v) != nil {
		t.Errorf("API request without a user: %d %q, want 401 with JSON", resp.StatusCode, body)
	}
	resp, _ = c.do("GET", "/account", http.Header{"Accept": {"text/html"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") || !strings.Contains(loc, url.QueryEscape("/account")) {
		t.Errorf("page request without a user: %d to %q, want 303 to /login returning to /account", resp.StatusCode, loc)
	}
	if resp, _ := c.do("POST", "/login", nil); resp.StatusCode != http.StatusSeeOther || len(c.jarCookies()) != 1 {
		t.Fatalf("login = %d, jar %v", resp.StatusCode, c.jarCookies())
	}
	if resp, body := c.do("GET", "/account", nil); resp.StatusCode != http.StatusOK || body != "hello ann" {
		t.Errorf("after login: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do("POST", "/logout", nil); resp.StatusCode != http.StatusNoContent || len(c.jarCookies()) != 0 {
		t.Errorf("logout = %d, jar still holds %v", resp.StatusCode, c.jarCookies())
	}
	if resp, _ := c.do("GET", "/account", http.Header{"Accept": {"application/json"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", resp.StatusCode)
	}
}

// TestOutsiderEchoFromWithoutMiddleware: From is nil without Middleware,
// and its methods report ErrNoSession.
func TestOutsiderEchoFromWithoutMiddleware(t *testing.T) {
	app := echo.New()
	app.POST("/set", func(c *echo.Context) error {
		s := sessionecho.From(c)
		if s != nil {
			return c.String(http.StatusOK, "a session without Middleware")
		}
		if err := s.Set("k", 1); !errors.Is(err, sessionkit.ErrNoSession) {
			return c.String(http.StatusOK, "Set: "+errString(err))
		}
		if err := s.Save(); !errors.Is(err, sessionkit.ErrNoSession) {
			return c.String(http.StatusOK, "Save: "+errString(err))
		}
		return c.String(http.StatusOK, "nil")
	})
	c := newOutsiderClient(t, app)
	if _, body := c.do("POST", "/set", nil); body != "nil" {
		t.Errorf("without Middleware: %s", body)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestOutsiderEchoCacheHeaders: README / package sessionkit "Shared
// caches" through Echo: a response that sets the cookie is private (its
// own Cache-Control kept, private="Set-Cookie" added to a public one),
// one that used the session varies on Cookie, one that did not has no
// Vary.
func TestOutsiderEchoCacheHeaders(t *testing.T) {
	env := newOutsiderEnv(t)
	// A write re-sends the cookie when it moves the expiry, which is kept
	// to the second: the clock moves a minute between requests.
	var mu sync.Mutex
	now := time.Now()
	env.m.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func() { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Minute) }
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	app.POST("/set", func(c *echo.Context) error {
		if cc := c.QueryParam("cc"); cc != "" {
			c.Response().Header().Set("Cache-Control", cc)
		}
		if err := sessionecho.From(c).Set("k", c.QueryParam("v")); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	app.GET("/read", func(c *echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=60")
		v, err := sessionkit.Get[string](sessionecho.From(c), "k")
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	})
	app.GET("/quiet", func(c *echo.Context) error { return c.String(http.StatusOK, "quiet") })
	c := newOutsiderClient(t, app)

	resp, _ := c.do("POST", "/set?v=1", nil)
	if cc := resp.Header.Get("Cache-Control"); cc != "private" || !slices.Contains(resp.Header.Values("Vary"), "Cookie") || len(resp.Cookies()) != 1 {
		t.Errorf("new session: Cache-Control %q, Vary %q, cookies %v; want private, Cookie and the cookie", cc, resp.Header.Values("Vary"), resp.Cookies())
	}
	tick()
	resp, _ = c.do("POST", "/set?v=v&cc="+url.QueryEscape("public, max-age=60"), nil)
	// A write re-sends the cookie (new Max-Age).
	if cc := resp.Header.Get("Cache-Control"); len(resp.Cookies()) != 1 || !strings.Contains(cc, "public, max-age=60") || !strings.Contains(cc, `private="Set-Cookie"`) {
		t.Errorf("public response setting the cookie: Cache-Control %q, cookies %v; want the handler's and private=\"Set-Cookie\"", cc, resp.Cookies())
	}
	resp, body := c.do("GET", "/read", nil)
	if cc := resp.Header.Get("Cache-Control"); body != "\"v\"\n" || len(resp.Cookies()) != 0 || cc != "public, max-age=60" || !slices.Contains(resp.Header.Values("Vary"), "Cookie") {
		t.Errorf("read: %q, Cache-Control %q, Vary %q, cookies %v; want the handler's Cache-Control, Vary: Cookie, no cookie", body, cc, resp.Header.Values("Vary"), resp.Cookies())
	}
	if resp, _ := c.do("GET", "/quiet", nil); len(resp.Header.Values("Vary")) != 0 || resp.Header.Get("Cache-Control") != "" {
		t.Errorf("untouched session: Vary %q, Cache-Control %q; want neither", resp.Header.Values("Vary"), resp.Header.Get("Cache-Control"))
	}
}

// TestOutsiderEchoCrossOrigin: docs/frameworks.md wraps the whole Echo app
// in http.NewCrossOriginProtection(): a cross-site POST is refused before
// any session work.
func TestOutsiderEchoCrossOrigin(t *testing.T) {
	env := newOutsiderEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	ran := false
	app.POST("/set", func(c *echo.Context) error {
		ran = true
		return sessionecho.From(c).Set("k", "v")
	})
	c := newOutsiderClient(t, http.NewCrossOriginProtection().Handler(app))
	resp, _ := c.do("POST", "/set", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
	if resp.StatusCode != http.StatusForbidden || ran || env.store.saves.Load() != 0 || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site POST = %d, handler ran %v, %d saves, cookies %v; want 403 before any session work", resp.StatusCode, ran, env.store.saves.Load(), resp.Cookies())
	}
	if resp, _ := c.do("POST", "/set", http.Header{"Sec-Fetch-Site": {"same-origin"}}); resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Errorf("same-origin POST = %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// TestOutsiderEchoLateChange: "Changing the session after the response
// headers": saved, with a warning, when no new cookie is needed;
// otherwise ErrHeadersSent is logged and observed and a new session is
// not stored.
func TestOutsiderEchoLateChange(t *testing.T) {
	env := newOutsiderEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	app.POST("/late", func(c *echo.Context) error {
		err := c.String(http.StatusOK, "sent")
		sessionecho.From(c).Set(c.QueryParam("k"), "late")
		return err
	})
	app.POST("/seed", func(c *echo.Context) error {
		return errors.Join(sessionecho.From(c).Set("seed", "x"), c.NoContent(http.StatusNoContent))
	})
	app.GET("/get", func(c *echo.Context) error {
		v, _ := sessionkit.Get[string](sessionecho.From(c), c.QueryParam("k"))
		return c.String(http.StatusOK, v)
	})
	c := newOutsiderClient(t, app)

	// A new session changed after the headers: not stored, reported.
	if resp, _ := c.do("POST", "/late?k=a", nil); len(resp.Cookies()) != 0 || env.store.saves.Load() != 0 {
		t.Errorf("late change of a new session: cookies %v, %d saves; want none", resp.Cookies(), env.store.saves.Load())
	}
	if env.errorEvents(sessionkit.ErrHeadersSent) != 1 || !strings.Contains(env.logs.String(), "level=ERROR") {
		t.Errorf("late change of a new session: %d ErrHeadersSent events, logs:\n%s", env.errorEvents(sessionkit.ErrHeadersSent), env.logs)
	}
	// An existing session changed after the headers: saved, with a
	// warning (under the default rolling a write re-sends the cookie; the
	// late one cannot, so the change is kept with the old cookie).
	c.do("POST", "/seed", nil)
	c.do("POST", "/late?k=b", nil)
	if _, body := c.do("GET", "/get?k=b", nil); body != "late" {
		t.Errorf("late change of an existing session read back %q, want late", body)
	}
	if !strings.Contains(env.logs.String(), "level=WARN") {
		t.Errorf("no warning for a late change:\n%s", env.logs)
	}
}

// TestOutsiderEchoStoreDownWithHandlerError: docs/frameworks.md's suite
// claim "a store that is down answered with the ErrorHandler's 503
// instead of the handler's response", for a handler whose response is
// Echo's error response: the 503 alone, without the session's cookie.
func TestOutsiderEchoStoreDownWithHandlerError(t *testing.T) {
	env := newOutsiderEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	app.POST("/fail", func(c *echo.Context) error {
		sessionecho.From(c).Set("tried", true)
		return echo.NewHTTPError(http.StatusTeapot, "no")
	})
	env.store.down.Store(true)
	c := newOutsiderClient(t, app)
	resp, body := c.do("POST", "/fail", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Cookies()) != 0 || strings.Contains(body, "message") {
		t.Errorf("POST /fail with the store down = %d %q, cookies %v; want the ErrorHandler's 503 alone", resp.StatusCode, body, resp.Cookies())
	}
}

// TestOutsiderEchoFlush: the session commits when the handler flushes
// (Session's doc) through Echo's Response: the cookie goes out with the
// first part of a streamed response.
func TestOutsiderEchoFlush(t *testing.T) {
	env := newOutsiderEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	app.POST("/stream", func(c *echo.Context) error {
		if err := sessionecho.From(c).Set("k", "streamed"); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Type", "text/plain")
		c.Response().WriteHeader(http.StatusOK)
		io.WriteString(c.Response(), "part 1;")
		http.NewResponseController(c.Response()).Flush()
		io.WriteString(c.Response(), "part 2")
		return nil
	})
	app.GET("/get", func(c *echo.Context) error {
		v, err := sessionkit.Get[string](sessionecho.From(c), "k")
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, v)
	})
	c := newOutsiderClient(t, app)
	resp, body := c.do("POST", "/stream", nil)
	if body != "part 1;part 2" || len(resp.Cookies()) != 1 {
		t.Errorf("streamed response %q, cookies %v; want both parts and the session cookie", body, resp.Cookies())
	}
	if _, body := c.do("GET", "/get", nil); body != "streamed" {
		t.Errorf("read back %q, want streamed", body)
	}
	if strings.Contains(env.logs.String(), "level=") {
		t.Errorf("logs:\n%s", env.logs)
	}
}

// TestOutsiderEchoMiddlewareTwice: "The same Manager mounted twice (...
// Echo's Middleware on the app and on a group) ... Every request through
// both is refused with the ErrorHandler's 503 (and the error logged); the
// handlers do not run." Requests through one only are served.
func TestOutsiderEchoMiddlewareTwice(t *testing.T) {
	env := newOutsiderEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(env.m))
	ran := 0
	handler := func(c *echo.Context) error {
		ran++
		return errors.Join(sessionecho.From(c).Set("k", "v"), c.String(http.StatusOK, "ran"))
	}
	app.Group("/g", sessionecho.Middleware(env.m)).POST("/set", handler)
	app.POST("/set", handler)
	c := newOutsiderClient(t, app)
	for i := range 2 {
		resp, body := c.do("POST", "/g/set", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || body == "ran" || ran != 0 || len(resp.Cookies()) != 0 {
			t.Errorf("request %d through both = %d %q (handler ran %d times), cookies %v; want the ErrorHandler's 503 alone", i, resp.StatusCode, body, ran, resp.Cookies())
		}
	}
	if n := strings.Count(env.logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged for two refused requests, want 2:\n%s", n, env.logs)
	}
	if resp, body := c.do("POST", "/set", nil); resp.StatusCode != http.StatusOK || body != "ran" || len(resp.Cookies()) != 1 {
		t.Errorf("through the app's Middleware only = %d %q, cookies %v", resp.StatusCode, body, resp.Cookies())
	}
}
