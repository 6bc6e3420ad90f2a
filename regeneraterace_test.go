package sessionkit_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestRegenerateCarriesConcurrentChange: while one request (a login) holds
// the session it loaded and then regenerates it, another request of the
// same client changes the old record; the regenerated session keeps that
// change as well as the login's own, made before and after Regenerate
// (an Update included), and the old ID is gone.
func TestRegenerateCarriesConcurrentChange(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	loaded := make(chan struct{})
	goOn := make(chan struct{})
	e.handle("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("before", true)
		sessionkit.Update(s, "count", func(n int) (int, error) { return n + 1, nil })
		close(loaded)
		<-goOn // the other request commits meanwhile (a password check takes this long)
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
		s.Set("user", "alice")
	})
	e.handle("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("cart", "book")
		sessionkit.Update(s, "count", func(n int) (int, error) { return n + 10, nil })
	})
	e.handle("GET /all", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		var parts []string
		for _, k := range []string{"before", "cart", "count", "user", "n"} {
			v, _ := sessionkit.Get[any](s, k)
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
		fmt.Fprint(w, strings.Join(parts, " "))
	})
	e.get("/inc")
	oldToken := e.jarCookie(e.client)
	done := make(chan int, 1)
	go func() {
		code, _, _ := e.get("/login")
		done <- code
	}()
	select {
	case <-loaded:
	case <-time.After(10 * time.Second):
		t.Fatal("the login never loaded its session")
	}
	if code, _, _ := e.get("/cart"); code != 200 {
		t.Fatalf("/cart: %d", code)
	}
	close(goOn)
	if code := <-done; code != 200 {
		t.Fatalf("/login: %d", code)
	}
	if tok := e.jarCookie(e.client); tok == oldToken {
		t.Fatal("the client still holds the old ID")
	}
	const want = "before=true cart=book count=11 user=alice n=1"
	if _, body, _ := e.get("/all"); body != want {
		t.Errorf("after the login: %s, want %s (the cart request's change carried over)", body, want)
	}
	if _, body, _ := e.requestWithCookie("/read", "session="+oldToken); body != "0" {
		t.Errorf("old ID still loads data %q", body)
	}
	if n, _ := e.mem.Stats(); n != 1 {
		t.Errorf("store holds %d records, want 1", n)
	}
}
