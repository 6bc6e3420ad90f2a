package auth_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestAddFlashConcurrent: two processes (two Managers over one store) add a
// flash message to one session at the same time, both having read the
// session before either saved; the next page shows both messages.
func TestAddFlashConcurrent(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	var loaded sync.WaitGroup
	loaded.Add(2)
	newServer := func() *httptest.Server {
		m := sessionkit.New(mem)
		m.Logger = slog.New(slog.DiscardHandler)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /new", func(w http.ResponseWriter, r *http.Request) {
			auth.AddFlash(sessionkit.From(r.Context()), "info", "welcome")
		})
		mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			if !s.Has(auth.FlashKey) { // loads the session
				t.Error("the first flash is missing")
			}
			loaded.Done()
			loaded.Wait() // both requests hold the same version
			if err := auth.AddFlash(s, "info", r.URL.Query().Get("msg")); err != nil {
				t.Error(err)
			}
		})
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			fs, err := auth.Flashes(sessionkit.From(r.Context()))
			if err != nil {
				t.Error(err)
			}
			var msgs []string
			for _, f := range fs {
				msgs = append(msgs, f.Kind+":"+f.Message)
			}
			io.WriteString(w, strings.Join(msgs, ","))
		})
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := newServer(), newServer()
	resp, err := http.Get(a.URL + "/new")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	do := func(method, url string) (int, string) {
		req, _ := http.NewRequest(method, url, nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie.Value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err) // called from the test's goroutines too
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var wg sync.WaitGroup
	for _, c := range []struct {
		srv *httptest.Server
		msg string
	}{{a, "saved"}, {b, "mailed"}} {
		wg.Go(func() {
			if code, body := do("POST", c.srv.URL+"/save?msg="+c.msg); code != 200 {
				t.Errorf("POST /save?msg=%s: %d %s", c.msg, code, body)
			}
		})
	}
	wg.Wait()
	_, body := do("GET", a.URL+"/")
	got := strings.Split(body, ",")
	if len(got) != 3 || got[0] != "info:welcome" || !slices.Contains(got, "info:saved") || !slices.Contains(got, "info:mailed") {
		t.Errorf("flashes = %q, want info:welcome then info:saved and info:mailed (a message lost?)", body)
	}
}
