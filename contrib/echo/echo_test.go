package sessionecho_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/echotest"
	"github.com/sessionkit/sessionkit"
	sessionecho "github.com/sessionkit/sessionkit/contrib/echo"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
)

// newApp is the suite's app written as an Echo user would.
func newApp(_ *testing.T, e *frameworktest.Env) http.Handler {
	app := echo.New()
	app.Use(sessionecho.Middleware(e.Manager))
	app.GET("/quiet", func(c *echo.Context) error { return c.String(http.StatusOK, "quiet") })
	routes(app, e)
	return app
}

// routes registers the suite's routes but /quiet.
func routes(r interface {
	GET(string, echo.HandlerFunc, ...echo.MiddlewareFunc) echo.RouteInfo
	POST(string, echo.HandlerFunc, ...echo.MiddlewareFunc) echo.RouteInfo
}, e *frameworktest.Env) {
	r.POST("/set", func(c *echo.Context) error {
		if err := sessionecho.From(c).Set(c.QueryParam("k"), c.QueryParam("v")); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *echo.Context) error {
		v, err := sessionkit.Get[string](sessionecho.From(c), c.QueryParam("k"))
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, v)
	})
	r.GET("/late", func(c *echo.Context) error {
		err := c.String(http.StatusOK, "sent")
		sessionecho.From(c).Set(c.QueryParam("k"), "late")
		return err
	})
	r.POST("/login", func(c *echo.Context) error {
		u, ok := e.Check(c.FormValue("username"), c.FormValue("password"))
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "invalid credentials")
		}
		if err := sessionecho.Login(c, e.Auth, u); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/whoami")
	})
	r.POST("/logout", func(c *echo.Context) error {
		if err := sessionecho.Logout(c, e.Auth); err != nil {
			return err
		}
		return c.String(http.StatusOK, "bye")
	})
	r.GET("/whoami", func(c *echo.Context) error {
		u, err := sessionecho.User(c, e.Auth)
		if err != nil {
			return c.String(http.StatusOK, "anonymous")
		}
		return c.String(http.StatusOK, u.Name)
	})
	r.GET("/private", func(c *echo.Context) error {
		u, _ := sessionecho.User(c, e.Auth)
		return c.String(http.StatusOK, u.Name)
	}, sessionecho.Require(e.Auth))
}

func TestEcho(t *testing.T) {
	frameworktest.Run(t, newApp)
}

// TestEchoPerRoute mounts Middleware on a group instead of globally.
func TestEchoPerRoute(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		app := echo.New()
		app.GET("/quiet", func(c *echo.Context) error { return c.String(http.StatusOK, "quiet") })
		routes(app.Group("", sessionecho.Middleware(e.Manager)), e)
		return app
	})
}

// naiveMiddleware passes the session's request on but leaves Echo's
// response as it is, so the handlers write around the session's writer.
func naiveMiddleware(m *sessionkit.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			var err error
			m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				err = next(c)
			})).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
}

func TestEchoNaiveMiddlewareIsReported(t *testing.T) {
	frameworktest.RunMisuse(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		app := echo.New()
		app.Use(naiveMiddleware(e.Manager))
		routes(app, e)
		return app
	})
}

// TestEchoErrorResponseCarriesCookie: a handler that changes the session
// and returns an error gets Echo's error response with the session saved
// and its cookie sent.
func TestEchoErrorResponseCarriesCookie(t *testing.T) {
	e := frameworktest.NewEnv(t)
	app := echo.New()
	app.Use(sessionecho.Middleware(e.Manager))
	app.POST("/fail", func(c *echo.Context) error {
		sessionecho.From(c).Set("tried", true)
		return echo.NewHTTPError(http.StatusTeapot, "no")
	})
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/fail", nil))
	if rec.Code != http.StatusTeapot || len(rec.Result().Cookies()) != 1 {
		t.Errorf("POST /fail = %d, cookies %v; want 418 and a session cookie", rec.Code, rec.Result().Cookies())
	}
	if _, saves := e.StoreCalls(); saves != 1 {
		t.Errorf("%d saves, want 1", saves)
	}
	if logs := e.Logs(); logs != "" {
		t.Errorf("logs: %s", logs)
	}
}

// TestEchotestContext runs a handler through Middleware with Echo's own
// echotest context, as an Echo user unit-tests a handler.
func TestEchotestContext(t *testing.T) {
	e := frameworktest.NewEnv(t)
	h := sessionecho.Middleware(e.Manager)(func(c *echo.Context) error {
		if err := sessionecho.From(c).Set("k", "v"); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	rec := echotest.ContextConfig{Request: httptest.NewRequest("POST", "/", nil)}.ServeWithHandler(t, h)
	if rec.Code != http.StatusNoContent || len(rec.Result().Cookies()) != 1 {
		t.Errorf("status %d, cookies %v; want 204 and a session cookie", rec.Code, rec.Result().Cookies())
	}
	// Without Middleware the session is nil and says so.
	c, _ := echotest.ContextConfig{}.ToContextRecorder(t)
	if err := sessionecho.From(c).Set("k", "v"); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Set without Middleware = %v, want ErrNoSession", err)
	}
}

func BenchmarkEcho(b *testing.B) {
	b.Run("sessionecho", func(b *testing.B) {
		e := frameworktest.NewEnv(b)
		app := echo.New()
		app.Use(sessionecho.Middleware(e.Manager))
		routes(app, e)
		frameworktest.Bench(b, app)
	})
	b.Run("outer", func(b *testing.B) { // the whole app inside Manager.Handler: Echo's cost alone
		e := frameworktest.NewEnv(b)
		app := echo.New()
		routes(app, e)
		frameworktest.Bench(b, e.Manager.Handler(app))
	})
	b.Run("nethttp", func(b *testing.B) {
		frameworktest.Bench(b, frameworktest.ServeMux(frameworktest.NewEnv(b)))
	})
}

// TestEchoWholeApp: the whole app inside Manager.Handler is a correct
// mount too (Echo's response wraps the session's writer).
func TestEchoWholeApp(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		app := echo.New()
		app.GET("/quiet", func(c *echo.Context) error { return c.String(http.StatusOK, "quiet") })
		routes(app, e)
		return e.Manager.Handler(app)
	})
}

// TestEchoRefusedRequestStopsTheChain: when the Manager answers a request
// itself (its ErrorHandler, here for a Manager without any expiry, or for
// the same Manager mounted on the app and on a group), the handler does
// not run and the ErrorHandler's 503 is the whole response.
func TestEchoRefusedRequestStopsTheChain(t *testing.T) {
	tests := []struct {
		name  string
		mount func(app *echo.Echo, m *sessionkit.Manager) *echo.Group
		setup func(m *sessionkit.Manager)
	}{
		{"misconfigured Manager", func(app *echo.Echo, m *sessionkit.Manager) *echo.Group {
			return app.Group("/g", sessionecho.Middleware(m))
		}, func(m *sessionkit.Manager) { m.Lifetime, m.IdleTimeout = 0, 0 }},
		{"Middleware twice", func(app *echo.Echo, m *sessionkit.Manager) *echo.Group {
			app.Use(sessionecho.Middleware(m))
			return app.Group("/g", sessionecho.Middleware(m))
		}, func(*sessionkit.Manager) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := frameworktest.NewEnv(t)
			tt.setup(e.Manager)
			app := echo.New()
			ran := false
			tt.mount(app, e.Manager).POST("/delete", func(c *echo.Context) error {
				ran = true
				return c.String(http.StatusOK, "deleted")
			})
			srv := httptest.NewServer(app)
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/g/delete", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ran || resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "deleted") {
				t.Errorf("POST /g/delete = %d %q, handler ran: %v; want the ErrorHandler's 503 alone", resp.StatusCode, body, ran)
			}
		})
	}
}

// TestEchoRequireWithoutMiddleware: Require on a route without Middleware
// cannot ever see a login; it says so (500, logged and observed) instead
// of sending every visitor to the login page.
func TestEchoRequireWithoutMiddleware(t *testing.T) {
	e := frameworktest.NewEnv(t)
	var observed error
	e.Manager.Observer = func(ev sessionkit.Event) {
		if ev.Kind == sessionkit.EventError {
			observed = ev.Err
		}
	}
	ran := false
	app := echo.New()
	app.GET("/account", func(c *echo.Context) error {
		ran = true
		return c.String(http.StatusOK, "account")
	}, sessionecho.Require(e.Auth))
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/account", nil))
	if ran || rec.Code != http.StatusInternalServerError {
		t.Errorf("GET /account = %d %q, handler ran: %v; want 500 and no handler", rec.Code, rec.Body, ran)
	}
	if !errors.Is(observed, sessionecho.ErrNoSessions) || !strings.Contains(e.Logs(), "sessionecho.Middleware") {
		t.Errorf("observed %v, logs %q; want ErrNoSessions in both", observed, e.Logs())
	}
	app = echo.New()
	app.Use(sessionecho.Middleware(e.Manager))
	app.GET("/account", func(c *echo.Context) error { return c.String(http.StatusOK, "account") }, sessionecho.Require(e.Auth))
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/account", nil))
	if rec.Code != http.StatusSeeOther {
		t.Errorf("with Middleware: GET /account = %d, want 303 to the login page", rec.Code)
	}
}

// perRoute registers every route with Middleware first among its route
// middleware, as in e.GET("/cart", cart, sessionecho.Middleware(m)).
type perRoute struct {
	app      *echo.Echo
	sessions echo.MiddlewareFunc
}

func (p perRoute) GET(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.RouteInfo {
	return p.app.GET(path, h, append([]echo.MiddlewareFunc{p.sessions}, mw...)...)
}

func (p perRoute) POST(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.RouteInfo {
	return p.app.POST(path, h, append([]echo.MiddlewareFunc{p.sessions}, mw...)...)
}

// TestEchoOneRoute mounts Middleware as each route's own middleware.
func TestEchoOneRoute(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		app := echo.New()
		app.GET("/quiet", func(c *echo.Context) error { return c.String(http.StatusOK, "quiet") })
		routes(perRoute{app: app, sessions: sessionecho.Middleware(e.Manager)}, e)
		return app
	})
}

// TestEchoTwoManagers: two Managers with their own cookies, each mounted
// with Middleware: each handler finds each session with Manager.From, and
// both are committed with their cookies.
func TestEchoTwoManagers(t *testing.T) {
	login := frameworktest.NewEnv(t)
	cart := frameworktest.NewEnv(t)
	cart.Manager.Cookie.Name = "cart"
	cart.Manager.IdleTimeout = 10 * time.Minute
	app := echo.New()
	app.Use(sessionecho.Middleware(login.Manager), sessionecho.Middleware(cart.Manager))
	app.POST("/both", func(c *echo.Context) error {
		ctx := c.Request().Context()
		if err := errors.Join(login.Manager.From(ctx).Set("who", "ann"), cart.Manager.From(ctx).Set("items", 3)); err != nil {
			return err
		}
		if c.QueryParam("status") != "" {
			return c.NoContent(http.StatusNoContent)
		}
		return c.String(http.StatusOK, "ok")
	})
	app.GET("/both", func(c *echo.Context) error {
		ctx := c.Request().Context()
		who, _ := sessionkit.Get[string](login.Manager.From(ctx), "who")
		items, _ := sessionkit.Get[int](cart.Manager.From(ctx), "items")
		return c.String(http.StatusOK, fmt.Sprintf("%s %d", who, items))
	})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	for _, query := range []string{"", "?status=1"} {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		resp, err := client.Post(srv.URL+"/both"+query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		names := map[string]int{}
		for _, ck := range resp.Cookies() {
			names[ck.Name] = ck.MaxAge
		}
		if names["session"] != 7200 || names["cart"] != 600 || len(names) != 2 {
			t.Errorf("POST /both%s set cookies %v; want session (7200 s) and cart (600 s)", query, names)
		}
		resp, err = client.Get(srv.URL + "/both")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ann 3" {
			t.Errorf("GET /both after POST /both%s = %q, want \"ann 3\"", query, b)
		}
	}
	if logs := login.Logs() + cart.Logs(); logs != "" {
		t.Errorf("unexpected logs:\n%s", logs)
	}
}
