package sessionkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

type eventLog struct {
	mu     sync.Mutex
	events []sessionkit.Event
}

func (l *eventLog) observe(e sessionkit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) take() []sessionkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events
	l.events = nil
	return ev
}

func kinds(events []sessionkit.Event) []string {
	var k []string
	for _, e := range events {
		s := e.Kind.String()
		if e.Kind.StoreOp() {
			s += ":" + e.Outcome.String()
		}
		k = append(k, s)
	}
	return k
}

type ctxKey struct{}

// TestEventsCarryRequestContext checks that every event of a request
// carries that request's context, the store kind and, for store calls, an
// outcome and timing, and that the lifecycle events are reported.
func TestEventsCarryRequestContext(t *testing.T) {
	var log eventLog
	e := newEnv(t, func(m *sessionkit.Manager) { m.Observer = log.observe })
	tag := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, r.URL.Path)))
		}
	}
	// The Manager sees the tagged context only if the tag is outside it.
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tag(e.m.Handler(e.mux).ServeHTTP)(w, r)
	})
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /read", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.Get[int](sessionkit.From(r.Context()), "n")
	})
	e.handle("GET /regenerate", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Regenerate()
	})
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	e.handle("GET /destroy-set", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Regenerate()
		s.Destroy()
		s.Set("n", 2)
	})
	e.handle("GET /regenerate-new", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 3)
		s.Regenerate()
	})

	for _, tc := range []struct {
		path string
		want []string
	}{
		// Lifecycle events follow the commit that made them true.
		{"/set", []string{"save:ok", "create"}},
		{"/read", []string{"load:ok"}},
		// The session goes on under a new ID: it is not a new one. Once
		// it is saved there, the old record is checked (a session
		// revoked meanwhile is not brought back) and deleted.
		{"/regenerate", []string{"load:ok", "save:ok", "load:ok", "delete:ok", "regenerate"}},
		// What is set after Destroy is a new session, even after a
		// Regenerate in the same request; the stored one was destroyed
		// and never stored under the ID Regenerate gave it.
		{"/destroy-set", []string{"load:ok", "save:ok", "delete:ok", "destroy", "create"}},
		{"/destroy", []string{"load:ok", "delete:ok", "destroy"}},
		{"/read", []string{}}, // the cookie was cleared: no token, no load
		// A session never stored is new, Regenerate or not: it is
		// created, not regenerated.
		{"/regenerate-new", []string{"save:ok", "create"}},
	} {
		e.get(tc.path)
		events := log.take()
		if got := kinds(events); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("GET %s: events %v, want %v", tc.path, got, tc.want)
		}
		for _, ev := range events {
			if got, _ := ev.Ctx.Value(ctxKey{}).(string); got != tc.path {
				t.Errorf("GET %s: %v event's context is not the request's (tag %q)", tc.path, ev.Kind, got)
			}
			if ev.Store != "sessionkit_test" { // countingStore, declared in this package
				t.Errorf("GET %s: %v event's Store = %q", tc.path, ev.Kind, ev.Store)
			}
			if ev.Kind.StoreOp() && (ev.Start.IsZero() || ev.Duration < 0) {
				t.Errorf("GET %s: %v event not timed: start %v, duration %v", tc.path, ev.Kind, ev.Start, ev.Duration)
			}
		}
	}

	// A refused token is reported with the request's context too.
	e.requestWithCookie("/read", e.m.Cookie.Name+"=garbage")
	if got := kinds(log.take()); !slices.Equal(got, []string{"bad-token"}) {
		t.Errorf("garbage cookie: events %v, want [bad-token]", got)
	}
}

// TestEventStoreKind checks Event.Store for the shipped stores' types.
func TestEventStoreKind(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	for _, tc := range []struct {
		name  string
		store sessionkit.Store
		want  string
	}{
		{"plain", mem, "memstore"},
		// A wrapper that says what it wraps is named by it, through
		// several layers; one that does not is named itself.
		{"unwrapping wrapper", unwrapping{unwrapping{mem}}, "memstore"},
		{"opaque wrapper", failingStore{Store: mem}, "sessionkit_test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log eventLog
			m := sessionkit.New(tc.store)
			m.Logger = discardLogger()
			m.Observer = log.observe
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Set("a", 1)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			evs := log.take()
			if len(evs) == 0 {
				t.Fatal("no events")
			}
			for _, ev := range evs {
				if ev.Store != tc.want {
					t.Errorf("%v: Store = %q, want %q", ev.Kind, ev.Store, tc.want)
				}
			}
		})
	}
}

// unwrapping wraps a store and says so (Unwrap).
type unwrapping struct{ sessionkit.Store }

func (u unwrapping) Unwrap() sessionkit.Store { return u.Store }

// failingStore fails every call with err.
type failingStore struct {
	sessionkit.Store
	err error
}

func (f failingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	return sessionkit.Record{}, f.err
}

func (f failingStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	return 0, f.err
}

// TestEventOutcomes checks how store errors are classified.
func TestEventOutcomes(t *testing.T) {
	for _, tc := range []struct {
		err     error
		outcome sessionkit.Outcome
		hasErr  bool
	}{
		{sessionkit.ErrNotFound, sessionkit.OutcomeNotFound, false},
		{sessionkit.ErrConflict, sessionkit.OutcomeConflict, false},
		{context.DeadlineExceeded, sessionkit.OutcomeTimeout, true},
		{context.Canceled, sessionkit.OutcomeCanceled, true},
		{errors.New("connection refused"), sessionkit.OutcomeError, true},
	} {
		var log eventLog
		m := sessionkit.New(failingStore{err: tc.err})
		m.Logger = discardLogger()
		m.MaxRetries = 0
		m.Observer = log.observe
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("a", 1)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		events := log.take()
		if len(events) == 0 || events[0].Kind != sessionkit.EventSave {
			t.Fatalf("%v: events %v, want a save first", tc.err, kinds(events))
		}
		ev := events[0]
		if ev.Outcome != tc.outcome || (ev.Err != nil) != tc.hasErr {
			t.Errorf("%v: outcome %v, err %v; want %v, err set %v", tc.err, ev.Outcome, ev.Err, tc.outcome, tc.hasErr)
		}
		if ev.Kind == sessionkit.EventSave && ev.Outcome == sessionkit.OutcomeOK {
			t.Errorf("%v: a failed save reported as ok", tc.err)
		}
	}
}

// updateConflictStore loses every compare-and-swap of an existing record.
type updateConflictStore struct{ sessionkit.Store }

func (c updateConflictStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if rec.Version != 0 {
		return 0, sessionkit.ErrConflict
	}
	return c.Store.Save(ctx, key, rec)
}

// TestEventTooManyConflicts checks that a save that gives up is reported
// once, after one conflict per attempt.
func TestEventTooManyConflicts(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	var log eventLog
	m := sessionkit.New(updateConflictStore{mem})
	m.Logger = discardLogger()
	m.MaxRetries = 2
	m.Observer = log.observe
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(rec.Result().Cookies()[0])
	log.take()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	count := map[sessionkit.EventKind]int{}
	for _, ev := range log.take() {
		count[ev.Kind]++
		if ev.Kind == sessionkit.EventError && !errors.Is(ev.Err, sessionkit.ErrTooManyConflicts) {
			t.Errorf("error event %v, want ErrTooManyConflicts", ev.Err)
		}
	}
	if count[sessionkit.EventConflict] != 3 || count[sessionkit.EventTooManyConflicts] != 1 || count[sessionkit.EventError] != 1 {
		t.Errorf("conflicts %d, too-many-conflicts %d, errors %d; want 3, 1, 1",
			count[sessionkit.EventConflict], count[sessionkit.EventTooManyConflicts], count[sessionkit.EventError])
	}
}
