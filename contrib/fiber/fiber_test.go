package sessionfiber_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/sessionkit/sessionkit"
	sessionfiber "github.com/sessionkit/sessionkit/contrib/fiber"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
	"github.com/valyala/fasthttp"
)

// serve runs app on a loopback listener (Fiber's fasthttp server) until
// the test ends and returns its URL.
func serve(t *testing.T, app *fiber.App) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
	t.Cleanup(func() {
		if err := app.Shutdown(); err != nil {
			t.Error(err)
		}
		<-done
	})
	return "http://" + ln.Addr().String()
}

// TestHandlerKeepsPromises: net/http handlers mounted in Fiber with
// Handler (adaptor.HTTPHandler around Manager.Handler) pass the whole
// suite over Fiber's own server.
func TestHandlerKeepsPromises(t *testing.T) {
	frameworktest.RunServer(t, func(t *testing.T, e *frameworktest.Env) string {
		app := fiber.New()
		app.All("/*", sessionfiber.Handler(e.Manager, frameworktest.ServeMux(e)))
		return serve(t, app)
	})
}

// TestHandlerWithFiberTest uses Fiber's own test tool (App.Test).
func TestHandlerWithFiberTest(t *testing.T) {
	e := frameworktest.NewEnv(t)
	app := fiber.New()
	app.All("/*", sessionfiber.Handler(e.Manager, frameworktest.ServeMux(e)))
	resp, err := app.Test(httptest.NewRequest("POST", "/set?k=a&v=1", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || len(resp.Cookies()) != 1 {
		t.Fatalf("POST /set = %d %q, cookies %v", resp.StatusCode, body, resp.Cookies())
	}
	req := httptest.NewRequest("GET", "/get?k=a", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "1" {
		t.Errorf("read back %q, want 1", body)
	}
}

// TestHTTPMiddlewareLosesChanges measures what Fiber's
// adaptor.HTTPMiddleware does to sessionkit's middleware: it runs
// Manager.Handler to completion (commit included) before any Fiber
// handler, then copies the request context's values into Fiber's by
// reflecting over context.WithValue's private fields. sessionkit's request
// context is not a context.WithValue (it saves that allocation), so the
// copy finds no session: sessionkit.From(c) is nil and every Session
// method reports ErrNoSession, which the handler returns as an error. The
// misuse therefore fails at the first request instead of silently losing
// changes; nothing is stored and no cookie is sent.
func TestHTTPMiddlewareLosesChanges(t *testing.T) {
	e := frameworktest.NewEnv(t)
	app := fiber.New()
	app.Use(adaptor.HTTPMiddleware(e.Manager.Handler))
	var reached bool
	var setErr error
	app.Post("/set", func(c fiber.Ctx) error {
		s := sessionkit.From(c)
		reached = s != nil
		if setErr = s.Set(c.Query("k"), c.Query("v")); setErr != nil {
			return setErr
		}
		return c.SendString("ok")
	})
	url := serve(t, app)

	resp, err := http.Post(url+"/set?k=a&v=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reached || !errors.Is(setErr, sessionkit.ErrNoSession) {
		t.Fatalf("the Fiber handler found a session (%v, Set: %v): Fiber changed, update the package doc", reached, setErr)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("POST /set = %d, want the handler's error (500)", resp.StatusCode)
	}
	if len(resp.Cookies()) != 0 {
		t.Errorf("a cookie was sent: %v (Fiber changed: update the package doc)", resp.Cookies())
	}
	if _, saves := e.StoreCalls(); saves != 0 {
		t.Errorf("%d saves (Fiber changed: update the package doc)", saves)
	}
	if logs := e.Logs(); logs != "" {
		t.Errorf("logged %q; docs/frameworks.md says nothing is logged", logs)
	}
}

// BenchmarkFiber serves through Fiber's fasthttp handler directly (no
// network), against the same routes on net/http's ServeMux.
func BenchmarkFiber(b *testing.B) {
	b.Run("sessionfiber", func(b *testing.B) {
		e := frameworktest.NewEnv(b)
		app := fiber.New()
		app.All("/*", sessionfiber.Handler(e.Manager, frameworktest.ServeMux(e)))
		h := app.Handler()
		var seed fasthttp.RequestCtx
		var seedReq fasthttp.Request
		seedReq.Header.SetMethod("POST")
		seedReq.SetRequestURI("/set?k=n&v=1")
		seed.Init(&seedReq, nil, nil)
		h(&seed)
		cookie := seed.Response.Header.PeekCookie("session")
		if cookie == nil {
			b.Fatalf("seeding set no cookie (status %d)", seed.Response.StatusCode())
		}
		var c fasthttp.Cookie
		if err := c.ParseBytes(cookie); err != nil {
			b.Fatal(err)
		}
		value := string(c.Value())
		b.ReportAllocs()
		cpu := frameworktest.ProcessCPU()
		for b.Loop() {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			req.Header.SetMethod("GET")
			req.SetRequestURI("/get?k=n")
			req.Header.SetCookie("session", value)
			ctx.Init(&req, nil, nil)
			h(&ctx)
			if ctx.Response.StatusCode() != http.StatusOK || string(ctx.Response.Body()) != "1" {
				b.Fatalf("GET /get = %d %q", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		frameworktest.ReportCPU(b, cpu)
	})
	b.Run("nethttp", func(b *testing.B) {
		frameworktest.Bench(b, frameworktest.ServeMux(frameworktest.NewEnv(b)))
	})
}
