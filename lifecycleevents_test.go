package sessionkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// switchStore fails Save or Delete while told to.
type switchStore struct {
	sessionkit.Store
	failSave, failDelete atomic.Bool
}

var errSwitchedOff = errors.New("store down")

func (s *switchStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if s.failSave.Load() {
		return 0, errSwitchedOff
	}
	return s.Store.Save(ctx, key, rec)
}

func (s *switchStore) Delete(ctx context.Context, key string) error {
	if s.failDelete.Load() {
		return errSwitchedOff
	}
	return s.Store.Delete(ctx, key)
}

// newSwitchEnv is newEnv over a switchStore, with observe as the
// Manager's Observer.
func newSwitchEnv(t *testing.T, observe func(sessionkit.Event)) (*env, *switchStore) {
	t.Helper()
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	sw := &switchStore{Store: mem}
	e := &env{t: t, mem: mem, store: &countingStore{Store: sw}, mux: http.NewServeMux()}
	e.m = sessionkit.New(e.store)
	e.m.Logger = discardLogger()
	e.m.Observer = observe
	e.srv = httptest.NewServer(e.m.Handler(e.mux))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	return e, sw
}

// lifecycle keeps the create, regenerate and destroy events of ev.
func lifecycle(ev []sessionkit.Event) []string {
	var out []string
	for _, e := range ev {
		switch e.Kind {
		case sessionkit.EventCreate, sessionkit.EventRegenerate, sessionkit.EventDestroy:
			out = append(out, e.Kind.String())
		}
	}
	return out
}

// TestLifecycleEventsReportCommits: EventCreate, EventRegenerate and
// EventDestroy report what a commit stored or deleted, once it has: a
// commit that fails reports none of them, the request that then succeeds
// reports each once, and a login from a browser without a session is one
// new session (created), not also a regenerated one.
func TestLifecycleEventsReportCommits(t *testing.T) {
	var log eventLog
	e, store := newSwitchEnv(t, log.observe)
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		s.SetUserKey("ada")
	})
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	e.handle("GET /regenerate-destroy", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		s.Destroy()
	})

	for _, tc := range []struct {
		name       string
		path       string
		failSave   bool
		failDelete bool
		wantCode   int
		want       []string
	}{
		{"create fails", "/set", true, false, 503, nil},
		{"create", "/set", false, false, 200, []string{"create"}},
		{"regenerate fails to save", "/login", true, false, 503, nil},
		{"regenerate fails to delete the old record", "/login", false, true, 503, nil},
		{"regenerate", "/login", false, false, 200, []string{"regenerate"}},
		{"destroy fails", "/destroy", false, true, 503, nil},
		{"destroy", "/destroy", false, false, 200, []string{"destroy"}},
		// No session now: the login stores a new one.
		{"login without a session", "/login", false, false, 200, []string{"create"}},
		// The session Regenerate moved is destroyed before it is stored
		// under its new ID: it is destroyed, not regenerated.
		{"regenerate then destroy", "/regenerate-destroy", false, false, 200, []string{"destroy"}},
	} {
		store.failSave.Store(tc.failSave)
		store.failDelete.Store(tc.failDelete)
		log.take()
		code, _, _ := e.get(tc.path)
		store.failSave.Store(false)
		store.failDelete.Store(false)
		if code != tc.wantCode {
			t.Fatalf("%s: status %d, want %d", tc.name, code, tc.wantCode)
		}
		if got := lifecycle(log.take()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: lifecycle events %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLifecycleEventAfterFailedSave: a handler that ignores a failed Save
// gets its commit retried when the headers go out; the event is reported
// once, by the commit that succeeds.
func TestLifecycleEventAfterFailedSave(t *testing.T) {
	var log eventLog
	e, store := newSwitchEnv(t, log.observe)
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /regenerate", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		store.failSave.Store(true)
		if err := s.Save(); err == nil {
			t.Error("Save: nil error from a failing store")
		}
		store.failSave.Store(false)
	})
	e.get("/set")
	log.take()
	if code, _, _ := e.get("/regenerate"); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got := lifecycle(log.take()); !slices.Equal(got, []string{"regenerate"}) {
		t.Errorf("lifecycle events %v, want [regenerate]", got)
	}
}

// TestClientSideLifecycleEvents: a client-side session's events follow
// its token the same way: created once its first token is sealed and
// fits, regenerated on a login over it, destroyed with its cookie; a
// token too large to send (the commit fails) reports nothing, and the
// request that then succeeds reports the session once.
func TestClientSideLifecycleEvents(t *testing.T) {
	var log eventLog
	e := newClientEnv(t, newLabelStore("a"), func(m *sessionkit.Manager) { m.Observer = log.observe })
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /big", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("big", strings.Repeat("x", 8<<10))
	})
	e.handle("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		s.SetUserKey("ada")
	})
	e.handle("GET /login-big", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		s.Set("big", strings.Repeat("x", 8<<10))
	})
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	for _, tc := range []struct {
		path     string
		wantCode int
		want     []string
	}{
		{"/big", 500, nil},
		{"/login", 200, []string{"create"}}, // no session yet: a new one
		{"/set", 200, nil},
		{"/login-big", 500, nil},
		{"/login", 200, []string{"regenerate"}},
		{"/destroy", 200, []string{"destroy"}},
	} {
		log.take()
		if code, _, _ := e.get(tc.path); code != tc.wantCode {
			t.Fatalf("GET %s: status %d, want %d", tc.path, code, tc.wantCode)
		}
		if got := lifecycle(log.take()); !slices.Equal(got, tc.want) {
			t.Errorf("GET %s: lifecycle events %v, want %v", tc.path, got, tc.want)
		}
	}
}
