package sessiongin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	sessiongin "github.com/sessionkit/sessionkit/contrib/gin"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
)

func init() { gin.SetMode(gin.TestMode) }

// newApp is the suite's app written as a gin user would.
func newApp(_ *testing.T, e *frameworktest.Env) http.Handler {
	r := gin.New()
	r.Use(sessiongin.Sessions(e.Manager))
	r.GET("/quiet", func(c *gin.Context) { c.String(http.StatusOK, "quiet") })
	routes(r, e)
	return r
}

// routes registers the suite's routes but /quiet.
func routes(r gin.IRoutes, e *frameworktest.Env) {
	r.POST("/set", func(c *gin.Context) {
		if err := sessiongin.From(c).Set(c.Query("k"), c.Query("v")); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := sessionkit.Get[string](sessiongin.From(c), c.Query("k"))
		c.String(http.StatusOK, v)
	})
	r.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "sent")
		sessiongin.From(c).Set(c.Query("k"), "late")
	})
	r.POST("/login", func(c *gin.Context) {
		u, ok := e.Check(c.PostForm("username"), c.PostForm("password"))
		if !ok {
			c.String(http.StatusUnauthorized, "invalid credentials")
			return
		}
		if err := sessiongin.Login(c, e.Auth, u); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.Redirect(http.StatusSeeOther, "/whoami")
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := sessiongin.Logout(c, e.Auth); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "bye")
	})
	r.GET("/whoami", func(c *gin.Context) {
		u, err := sessiongin.User(c, e.Auth)
		if err != nil {
			c.String(http.StatusOK, "anonymous")
			return
		}
		c.String(http.StatusOK, u.Name)
	})
	r.GET("/private", sessiongin.Require(e.Auth), func(c *gin.Context) {
		u, _ := sessiongin.User(c, e.Auth)
		c.String(http.StatusOK, u.Name)
	})
}

func TestGin(t *testing.T) {
	frameworktest.Run(t, newApp)
}

// TestGinPerRoute mounts Sessions per route group instead of globally.
func TestGinPerRoute(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := gin.New()
		r.GET("/quiet", func(c *gin.Context) { c.String(http.StatusOK, "quiet") })
		routes(r.Group("/", sessiongin.Sessions(e.Manager)), e)
		return r
	})
}

// naiveSessions is the gin middleware a user writes first: it passes the
// session's request on but leaves c.Writer as it is, so gin's handlers
// write around the session's writer.
func naiveSessions(m *sessionkit.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	}
}

func TestGinNaiveMiddlewareIsReported(t *testing.T) {
	frameworktest.RunMisuse(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := gin.New()
		routes(r.Group("/", naiveSessions(e.Manager)), e)
		return r
	})
}

// TestGinStatusOnly: c.Status without a body (gin writes the headers after
// the last handler) still commits and sends the cookie.
func TestGinStatusOnly(t *testing.T) {
	e := frameworktest.NewEnv(t)
	r := gin.New()
	r.Use(sessiongin.Sessions(e.Manager))
	r.POST("/mark", func(c *gin.Context) {
		sessiongin.From(c).Set("marked", true)
		c.Status(http.StatusNoContent)
	})
	r.POST("/abort", func(c *gin.Context) {
		sessiongin.From(c).Set("aborted", true)
		c.AbortWithStatus(http.StatusAccepted)
	})
	for _, path := range []string{"/mark", "/abort"} {
		w := performRequest(r, "POST", path)
		if w.Code != map[string]int{"/mark": 204, "/abort": 202}[path] || len(w.Result().Cookies()) != 1 {
			t.Errorf("POST %s = %d, cookies %v; want its status and a session cookie", path, w.Code, w.Result().Cookies())
		}
	}
	if _, saves := e.StoreCalls(); saves != 2 {
		t.Errorf("%d saves, want 2", saves)
	}
}

func BenchmarkGin(b *testing.B) {
	b.Run("sessiongin", func(b *testing.B) {
		e := frameworktest.NewEnv(b)
		r := gin.New()
		r.Use(sessiongin.Sessions(e.Manager))
		benchRoutes(r)
		frameworktest.Bench(b, r)
	})
	b.Run("outer", func(b *testing.B) { // the whole engine inside Manager.Handler: gin's cost alone
		e := frameworktest.NewEnv(b)
		r := gin.New()
		benchRoutes(r)
		frameworktest.Bench(b, e.Manager.Handler(r))
	})
	b.Run("nethttp", func(b *testing.B) {
		frameworktest.Bench(b, frameworktest.ServeMux(frameworktest.NewEnv(b)))
	})
}

func benchRoutes(r *gin.Engine) {
	r.POST("/set", func(c *gin.Context) {
		sessiongin.From(c).Set(c.Query("k"), c.Query("v"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := sessionkit.Get[string](sessiongin.From(c), c.Query("k"))
		c.String(http.StatusOK, v)
	})
}

// TestGinWholeEngine: the whole engine inside Manager.Handler is a correct
// mount too (gin's writer wraps the session's).
func TestGinWholeEngine(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := gin.New()
		r.GET("/quiet", func(c *gin.Context) { c.String(http.StatusOK, "quiet") })
		routes(r, e)
		return e.Manager.Handler(r)
	})
}

// TestGinRefusedRequestStopsTheChain: when the Manager answers a request
// itself instead of serving it (its ErrorHandler, here for a Manager
// without any expiry, or for a second Sessions of the same Manager), the
// route's handlers must not run after that answer.
func TestGinRefusedRequestStopsTheChain(t *testing.T) {
	tests := []struct {
		name  string
		mount func(r *gin.Engine, m *sessionkit.Manager) gin.IRoutes
		setup func(m *sessionkit.Manager)
	}{
		{"misconfigured Manager", func(r *gin.Engine, m *sessionkit.Manager) gin.IRoutes {
			r.Use(sessiongin.Sessions(m))
			return r
		}, func(m *sessionkit.Manager) { m.Lifetime, m.IdleTimeout = 0, 0 }},
		{"Sessions twice", func(r *gin.Engine, m *sessionkit.Manager) gin.IRoutes {
			r.Use(sessiongin.Sessions(m))
			return r.Group("/", sessiongin.Sessions(m))
		}, func(*sessionkit.Manager) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := frameworktest.NewEnv(t)
			tt.setup(e.Manager)
			ran := false
			r := gin.New()
			tt.mount(r, e.Manager).POST("/delete", func(c *gin.Context) {
				ran = true
				c.String(http.StatusOK, "deleted")
			})
			w := performRequest(r, "POST", "/delete")
			if ran || w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "deleted") {
				t.Errorf("POST /delete = %d %q, handler ran: %v; want the ErrorHandler's 503 alone", w.Code, w.Body, ran)
			}
		})
	}
}

// TestGinRequireWithoutSessions: Require on a chain without Sessions
// cannot ever see a login; it says so (500, logged and observed) instead
// of sending every visitor to the login page.
func TestGinRequireWithoutSessions(t *testing.T) {
	e := frameworktest.NewEnv(t)
	var observed error
	e.Manager.Observer = func(ev sessionkit.Event) {
		if ev.Kind == sessionkit.EventError {
			observed = ev.Err
		}
	}
	ran := false
	r := gin.New()
	r.GET("/account", sessiongin.Require(e.Auth), func(c *gin.Context) {
		ran = true
		c.String(http.StatusOK, "account")
	})
	w := performRequest(r, "GET", "/account")
	if ran || w.Code != http.StatusInternalServerError {
		t.Errorf("GET /account = %d %q, handler ran: %v; want 500 and no handler", w.Code, w.Body, ran)
	}
	if !errors.Is(observed, sessiongin.ErrNoSessions) || !strings.Contains(e.Logs(), "sessiongin.Sessions") {
		t.Errorf("observed %v, logs %q; want ErrNoSessions in both", observed, e.Logs())
	}
	// Mounted as documented, the same route redirects an anonymous visitor.
	r = gin.New()
	r.Use(sessiongin.Sessions(e.Manager))
	r.GET("/account", sessiongin.Require(e.Auth), func(c *gin.Context) { c.String(http.StatusOK, "account") })
	if w := performRequest(r, "GET", "/account"); w.Code != http.StatusSeeOther {
		t.Errorf("with Sessions: GET /account = %d, want 303 to the login page", w.Code)
	}
}

// perRoute registers every route with its own Sessions in front of the
// route's handlers, as in r.GET("/cart", sessiongin.Sessions(m), cart).
type perRoute struct {
	gin.IRoutes
	sessions gin.HandlerFunc
}

func (p perRoute) GET(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return p.IRoutes.GET(path, append([]gin.HandlerFunc{p.sessions}, h...)...)
}

func (p perRoute) POST(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return p.IRoutes.POST(path, append([]gin.HandlerFunc{p.sessions}, h...)...)
}

// TestGinOneRoute mounts Sessions in each route's handlers, the third
// mount the package doc names.
func TestGinOneRoute(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := gin.New()
		r.GET("/quiet", func(c *gin.Context) { c.String(http.StatusOK, "quiet") })
		routes(perRoute{IRoutes: r, sessions: sessiongin.Sessions(e.Manager)}, e)
		return r
	})
}

// TestGinCopyAfterHandler: a gin c.Copy() used after the request is over
// (the goroutine gin's docs suggest) still reads the session as it was,
// but its changes are refused with ErrSessionAfterHandler, reported once,
// and nothing is saved.
func TestGinCopyAfterHandler(t *testing.T) {
	e := frameworktest.NewEnv(t)
	var reports atomic.Int32
	e.Manager.Observer = func(ev sessionkit.Event) {
		if ev.Kind == sessionkit.EventError && errors.Is(ev.Err, sessionkit.ErrSessionAfterHandler) {
			reports.Add(1)
		}
	}
	type result struct {
		read      string
		set, save error
	}
	results := make(chan result, 1)
	requestOver := make(chan struct{})
	r := gin.New()
	r.Use(sessiongin.Sessions(e.Manager))
	r.POST("/set", func(c *gin.Context) {
		sessiongin.From(c).Set("k", c.Query("v"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := sessionkit.Get[string](sessiongin.From(c), "k")
		c.String(http.StatusOK, v)
	})
	r.POST("/background", func(c *gin.Context) {
		sessionkit.Get[string](sessiongin.From(c), "k")
		cc := c.Copy()
		go func() {
			<-requestOver
			s := sessiongin.From(cc)
			v, _ := sessionkit.Get[string](s, "k")
			results <- result{v, s.Set("k", "late"), s.Save()}
		}()
		c.String(http.StatusAccepted, "started")
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, req)
		if req.URL.Path == "/background" {
			close(requestOver) // gin and Sessions are done with the request
		}
	}))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	do := func(method, path string) string {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	do("POST", "/set?v=seeded")
	do("POST", "/background")
	res := <-results
	if res.read != "seeded" || !errors.Is(res.set, sessionkit.ErrSessionAfterHandler) || !errors.Is(res.save, sessionkit.ErrSessionAfterHandler) {
		t.Errorf("after the request: read %q, Set %v, Save %v; want seeded and ErrSessionAfterHandler for both", res.read, res.set, res.save)
	}
	if got := do("GET", "/get"); got != "seeded" {
		t.Errorf("k = %q after the refused change, want seeded", got)
	}
	if n := reports.Load(); n != 1 {
		t.Errorf("ErrSessionAfterHandler observed %d times, want once", n)
	}
}

// TestGinTwoManagers: two Managers with their own cookies (a login
// session beside a short cart session), each mounted with Sessions on the
// same chain: each handler finds each session with Manager.From, and both
// are committed with their cookies, for a body write and a status alone.
func TestGinTwoManagers(t *testing.T) {
	login := frameworktest.NewEnv(t)
	cart := frameworktest.NewEnv(t)
	cart.Manager.Cookie.Name = "cart"
	cart.Manager.IdleTimeout = 10 * time.Minute
	r := gin.New()
	r.Use(sessiongin.Sessions(login.Manager), sessiongin.Sessions(cart.Manager))
	r.POST("/both", func(c *gin.Context) {
		ctx := c.Request.Context()
		if err := errors.Join(login.Manager.From(ctx).Set("who", "ann"), cart.Manager.From(ctx).Set("items", 3)); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		if c.Query("status") != "" {
			c.Status(http.StatusNoContent)
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/both", func(c *gin.Context) {
		ctx := c.Request.Context()
		who, _ := sessionkit.Get[string](login.Manager.From(ctx), "who")
		items, _ := sessionkit.Get[int](cart.Manager.From(ctx), "items")
		c.String(http.StatusOK, "%s %d", who, items)
	})
	srv := httptest.NewServer(r)
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

// TestGinRecoveredPanic: a handler that panics under gin.Recovery gets
// Recovery's 500, nothing it changed is saved, no bypass is reported, and
// a c.Copy() it handed to a goroutine is refused afterwards
// (ErrSessionAfterHandler), as after a handler that returned.
func TestGinRecoveredPanic(t *testing.T) {
	e := frameworktest.NewEnv(t)
	late := make(chan error, 1)
	requestOver := make(chan struct{})
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), sessiongin.Sessions(e.Manager))
	r.POST("/panic", func(c *gin.Context) {
		sessiongin.From(c).Set("k", "before the panic")
		cc := c.Copy()
		go func() {
			<-requestOver
			s := sessiongin.From(cc)
			late <- errors.Join(s.Set("k", "late"), s.Save())
		}()
		panic("handler bug")
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, req)
		close(requestOver)
	}))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/panic", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 0 {
		t.Errorf("POST /panic = %d, cookies %v; want Recovery's 500 and no cookie", resp.StatusCode, resp.Cookies())
	}
	if err := <-late; !errors.Is(err, sessionkit.ErrSessionAfterHandler) {
		t.Errorf("the goroutine's change after the panic: %v, want ErrSessionAfterHandler", err)
	}
	if _, saves := e.StoreCalls(); saves != 0 {
		t.Errorf("%d saves after a panicking handler, want 0", saves)
	}
	if strings.Contains(e.Logs(), "written around the writer") {
		t.Errorf("Recovery's response was reported as a bypass:\n%s", e.Logs())
	}
}

// A recovery mounted after Sessions handles the panic inside the session
// middleware: to the session the request ended normally, so what the
// handler changed before the panic is committed with the 500 (docs/
// frameworks.md, "Panics"), as express-session saves when an error
// handler answers.
func TestGinRecoveryInsideSessions(t *testing.T) {
	e := frameworktest.NewEnv(t)
	r := gin.New()
	r.Use(sessiongin.Sessions(e.Manager), gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.POST("/panic", func(c *gin.Context) {
		sessiongin.From(c).Set("k", "before the panic")
		panic("handler bug")
	})
	r.GET("/k", func(c *gin.Context) {
		v, err := sessionkit.Get[string](sessiongin.From(c), "k")
		if err != nil {
			c.AbortWithError(http.StatusInternalServerError, err)
			return
		}
		c.String(http.StatusOK, "%s", v)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Post(srv.URL+"/panic", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 1 {
		t.Fatalf("POST /panic = %d, cookies %v; want Recovery's 500 with the new session's cookie", resp.StatusCode, resp.Cookies())
	}
	resp, err = client.Get(srv.URL + "/k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "before the panic" {
		t.Errorf("GET /k = %d %q, want 200 %q (the change before a panic recovered inside Sessions is committed)", resp.StatusCode, body, "before the panic")
	}
}
