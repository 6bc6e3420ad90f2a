package sessionkit_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// labelStore is a transparent ClientStore for core tests: a token is its
// current label, a dot and the record in base64 JSON. Tokens with another
// known label still open but need resealing, as after a key rotation.
type labelStore struct {
	current atomic.Value // string
	known   []string
}

type labelRecord struct {
	Data    []byte
	Expiry  int64
	UserKey string
}

func newLabelStore(current string, known ...string) *labelStore {
	ls := &labelStore{known: append([]string{current}, known...)}
	ls.current.Store(current)
	return ls
}

func (ls *labelStore) Seal(rec sessionkit.Record) (string, error) {
	b, err := json.Marshal(labelRecord{rec.Data, rec.Expiry.UnixMilli(), rec.UserKey})
	if err != nil {
		return "", err
	}
	return ls.current.Load().(string) + "." + base64.RawURLEncoding.EncodeToString(b), nil
}

func (ls *labelStore) Open(token string) (sessionkit.Record, error) {
	label, body, ok := strings.Cut(token, ".")
	if !ok || !ls.isKnown(label) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	var lr labelRecord
	if err := json.Unmarshal(b, &lr); err != nil {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	return sessionkit.Record{Data: lr.Data, Expiry: time.UnixMilli(lr.Expiry), UserKey: lr.UserKey}, nil
}

func (ls *labelStore) isKnown(label string) bool {
	for _, k := range ls.known {
		if k == label {
			return true
		}
	}
	return false
}

func (ls *labelStore) NeedsReseal(token string) bool {
	return !strings.HasPrefix(token, ls.current.Load().(string)+".")
}

func newClientEnv(t *testing.T, cs sessionkit.ClientStore, configure ...func(*sessionkit.Manager)) *env {
	t.Helper()
	e := &env{t: t, mux: http.NewServeMux()}
	e.m = sessionkit.NewClientSide(cs)
	e.m.Logger = discardLogger()
	for _, f := range configure {
		f(e.m)
	}
	e.srv = httptest.NewServer(e.m.Handler(e.mux))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	return e
}

// An unchanged client-side session whose token the ClientStore wants
// replaced (sealed with a retired key) gets a fresh token on the next
// response, and only once.
func TestClientSideResealsStaleToken(t *testing.T) {
	ls := newLabelStore("old", "new")
	e := newClientEnv(t, ls)
	e.handle("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("n", 7); err != nil {
			t.Error(err)
		}
	})
	e.handle("/get", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		if err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, n)
	})
	e.get("/set")
	if tok := e.jarCookie(e.client); !strings.HasPrefix(tok, "old.") {
		t.Fatalf("token after first save = %q, want label old", tok)
	}

	// Rotate: "new" seals, "old" still opens.
	ls.current.Store("new")

	_, body, resp := e.get("/get")
	if body != "7" {
		t.Fatalf("value after rotation = %q, want 7", body)
	}
	c := sessionCookie(resp, e.m.Cookie.Name)
	if c == nil || !strings.HasPrefix(c.Value, "new.") {
		t.Fatalf("read-only request with a stale token: Set-Cookie %v, want a token resealed with label new", c)
	}
	_, body, resp = e.get("/get")
	if body != "7" {
		t.Fatalf("value after reseal = %q, want 7", body)
	}
	if c := sessionCookie(resp, e.m.Cookie.Name); c != nil {
		t.Fatalf("a current token was resealed again: %v", c)
	}
}

// A client-side session too large to seal fails the response even when the
// handler ignored the error Save returned: the change is never dropped
// with a 200 and no cookie.
func TestClientSideTooLargeAfterIgnoredSave(t *testing.T) {
	var saveErr atomic.Value
	e := newClientEnv(t, newLabelStore("k"))
	e.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Set("blob", strings.Repeat("x", 5000)); err != nil {
			t.Error(err)
		}
		if err := s.Save(); err != nil {
			saveErr.Store(err)
		}
		fmt.Fprint(w, "ok")
	})
	code, _, resp := e.get("/big")
	if err, _ := saveErr.Load().(error); !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Fatalf("Save error = %v, want ErrTooLarge", err)
	}
	if code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", code)
	}
	if c := sessionCookie(resp, e.m.Cookie.Name); c != nil {
		t.Fatalf("got a cookie: %d bytes", len(c.Value))
	}
}

// Reload of a client-side session after Save returns what was committed,
// not the older state in the token the request arrived with.
func TestClientSideReloadAfterSave(t *testing.T) {
	e := newClientEnv(t, newLabelStore("k"))
	e.handle("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("n", 1); err != nil {
			t.Error(err)
		}
	})
	e.handle("/save-reload", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Set("n", 2); err != nil {
			t.Error(err)
		}
		if err := s.Save(); err != nil {
			t.Error(err)
		}
		if err := s.Set("discarded", true); err != nil {
			t.Error(err)
		}
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
		n, _ := sessionkit.Get[int](s, "n")
		fmt.Fprint(w, n, s.Has("discarded"))
	})
	e.handle("/get", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		fmt.Fprint(w, n)
	})
	e.get("/set")
	if _, body, _ := e.get("/save-reload"); body != "2 false" {
		t.Fatalf("after Save and Reload: %q, want \"2 false\"", body)
	}
	if _, body, _ := e.get("/get"); body != "2" {
		t.Fatalf("next request: %q, want 2", body)
	}
}
