package sessionkit_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// liveRecords counts the records the env's memstore holds.
func (e *env) liveRecords() int {
	e.t.Helper()
	n := 0
	for _, err := range e.mem.All(context.Background()) {
		if err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	return n
}

// TestTokenTooLargeStoresNothing: a new session whose token the transport
// cannot send (over CookieTransport.MaxSize, a signed value over it, over
// HeaderTransport.MaxSize) gets the documented 500 and no token, and
// leaves no record in the store: one no client could ever name would stay
// there until it expired.
func TestTokenTooLargeStoresNothing(t *testing.T) {
	signer, err := sessionkit.NewHMACSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	id := sessionkit.RandomIDs{}.NewID()
	for _, tc := range []struct {
		name      string
		configure func(*sessionkit.Manager)
		header    string // the response header a token would come in
	}{
		{"cookie over MaxSize", func(m *sessionkit.Manager) { m.Cookie.MaxSize = len(id) - 1 }, "Set-Cookie"},
		// The ID fits; the signed cookie value does not.
		{"signed cookie over MaxSize", func(m *sessionkit.Manager) {
			m.Cookie.Signer = signer
			m.Cookie.MaxSize = len(id) + 1
		}, "Set-Cookie"},
		{"header token over MaxSize", func(m *sessionkit.Manager) {
			m.Transport = &sessionkit.HeaderTransport{MaxSize: len(id) - 1}
		}, "Session-Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.configure)
			e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Set("n", 1)
			})
			e.handle("GET /login", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				s.Regenerate()
				s.SetUserKey("ada")
			})
			e.handle("GET /save", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				s.Set("n", 1)
				if err := s.Save(); err == nil {
					t.Error("Save: nil error for a token the transport cannot send")
				}
			})
			for _, path := range []string{"/set", "/login", "/save"} {
				code, _, resp := e.get(path)
				if code != http.StatusInternalServerError {
					t.Errorf("GET %s: status %d, want 500", path, code)
				}
				if v := resp.Header.Values(tc.header); len(v) != 0 {
					t.Errorf("GET %s: %s %q, want none", path, tc.header, v)
				}
			}
			if n := e.liveRecords(); n != 0 {
				t.Errorf("%d records in the store after refused sessions, want 0", n)
			}
			if n := e.store.saves.Load(); n != 0 {
				t.Errorf("%d store Saves, want 0", n)
			}
		})
	}
}

// TestTokenWithinMaxSizeIsStored is the other side of
// TestTokenTooLargeStoresNothing: a token exactly at MaxSize is sent, and
// its session stored.
func TestTokenWithinMaxSizeIsStored(t *testing.T) {
	id := sessionkit.RandomIDs{}.NewID()
	e := newEnv(t, func(m *sessionkit.Manager) { m.Cookie.MaxSize = len(id) })
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	code, _, _ := e.get("/set")
	if code != http.StatusOK || e.jarCookie(e.client) == "" || strings.ContainsAny(e.jarCookie(e.client), ".") {
		t.Fatalf("status %d, cookie %q; want 200 and the ID", code, e.jarCookie(e.client))
	}
	if n := e.liveRecords(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}
