package sessionkit_test

// Outside-in acceptance checks of the core package, written from its
// documentation only: each test names the sentence it pins.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// probeStore counts store calls and can be told to fail them.
type probeStore struct {
	countingStore
	failSave, failLoad, conflictSave atomic.Bool
}

var errProbe = errors.New("probe: store down")

func (p *probeStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if p.failLoad.Load() {
		p.loads.Add(1)
		return sessionkit.Record{}, errProbe
	}
	return p.countingStore.Load(ctx, key)
}

func (p *probeStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	switch {
	case p.failSave.Load():
		p.saves.Add(1)
		return 0, errProbe
	case p.conflictSave.Load():
		p.saves.Add(1)
		return 0, sessionkit.ErrConflict
	}
	return p.countingStore.Save(ctx, key, rec)
}

// counts returns loads, saves, touches, deletes.
func (p *probeStore) counts() [4]int64 {
	return [4]int64{p.loads.Load(), p.saves.Load(), p.touches.Load(), p.deletes.Load()}
}

// probe is a server whose handler each test sets, a browser on a fake
// clock, a counted store and the events the Manager reported.
type probe struct {
	t      *testing.T
	clock  *browser.Clock
	m      *sessionkit.Manager
	mem    *memstore.Store
	store  *probeStore
	client *browser.Client
	srv    *httptest.Server

	mu     sync.Mutex
	h      http.HandlerFunc
	events []sessionkit.Event
}

func newProbe(t *testing.T, configure func(*sessionkit.Manager)) *probe {
	t.Helper()
	p := &probe{t: t, clock: browser.NewClock()}
	p.mem = memstore.New(memstore.Options{Now: p.clock.Now})
	t.Cleanup(func() { p.mem.Close() })
	p.store = &probeStore{countingStore: countingStore{Store: p.mem}}
	p.m = sessionkit.New(p.store)
	p.m.Now = p.clock.Now
	p.m.Logger = discardLogger()
	p.m.Observer = func(e sessionkit.Event) {
		p.mu.Lock()
		p.events = append(p.events, e)
		p.mu.Unlock()
	}
	if configure != nil {
		configure(p.m)
	}
	p.srv = httptest.NewServer(p.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		h := p.h
		p.mu.Unlock()
		h(w, r)
	})))
	t.Cleanup(p.srv.Close)
	c, err := browser.NewClient(p.srv.URL, p.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	p.client = c
	return p
}

// serve sets the handler and sends one request.
func (p *probe) serve(h http.HandlerFunc) (*http.Response, string) {
	p.t.Helper()
	p.mu.Lock()
	p.h = h
	p.events = nil
	p.mu.Unlock()
	resp, body, err := p.client.Do("GET", "/")
	if err != nil {
		p.t.Fatal(err)
	}
	return resp, body
}

func (p *probe) kinds() []sessionkit.EventKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ks []sessionkit.EventKind
	for _, e := range p.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (p *probe) eventsOf(k sessionkit.EventKind) []sessionkit.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var es []sessionkit.Event
	for _, e := range p.events {
		if e.Kind == k {
			es = append(es, e)
		}
	}
	return es
}

func (p *probe) cookie() (browser.Cookie, bool) { return p.client.Cookie("session") }

// login stores a session with n=1 and returns its ID.
func (p *probe) login() string {
	p.t.Helper()
	var id string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		id = s.ID()
	})
	if _, ok := p.cookie(); !ok {
		p.t.Fatal("login: no cookie")
	}
	return id
}

func sessionSetCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// "If the commit fails, the handler's response is replaced by
// Manager.ErrorHandler's (default 503) and the cause is logged; nothing the
// handler wrote reaches the client."
func TestOutsiderFailedCommitLeaksNothing(t *testing.T) {
	tests := []struct {
		name string
		h    func(w http.ResponseWriter, r *http.Request)
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("n", 2)
			w.Header().Set("X-App", "secret")
			http.SetCookie(w, &http.Cookie{Name: "app", Value: "1"})
			http.Redirect(w, r, "/next", http.StatusFound)
		}},
		{"write", func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("n", 2)
			w.Header().Set("X-App", "secret")
			w.Header().Set("Content-Type", "application/json")
			http.SetCookie(w, &http.Cookie{Name: "app", Value: "1"})
			fmt.Fprint(w, `{"secret":true}`)
		}},
		{"return", func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("n", 2)
			w.Header().Set("X-App", "secret")
			http.SetCookie(w, &http.Cookie{Name: "app", Value: "1"})
		}},
		{"failed Save, then write", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			s.Set("n", 2)
			w.Header().Set("X-App", "secret")
			if err := s.Save(); err == nil {
				t.Error("Save succeeded on a failing store")
			}
			fmt.Fprint(w, "secret")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, nil)
			p.login()
			p.store.failSave.Store(true)
			resp, body := p.serve(tt.h)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", resp.StatusCode)
			}
			if strings.Contains(body, "secret") {
				t.Errorf("handler's body reached the client: %q", body)
			}
			for _, h := range []string{"X-App", "Location"} {
				if v := resp.Header.Get(h); v != "" {
					t.Errorf("handler's %s header reached the client: %q", h, v)
				}
			}
			for _, c := range resp.Cookies() {
				t.Errorf("Set-Cookie %s reached the client", c.Name)
			}
			if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") {
				t.Errorf("handler's Content-Type reached the client: %q", ct)
			}
		})
	}
}

// "When Save fails, the changes stay pending: they are committed again when
// the response headers are written".
func TestOutsiderFailedSaveRetriedAtHeaders(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 5)
		p.store.failSave.Store(true)
		err := s.Save()
		p.store.failSave.Store(false)
		if err == nil {
			t.Error("Save succeeded on a failing store")
		}
		fmt.Fprint(w, "handler")
	})
	if resp.StatusCode != 200 || body != "handler" {
		t.Fatalf("got %d %q, want the handler's answer", resp.StatusCode, body)
	}
	_, body = p.serve(func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		fmt.Fprint(w, n)
	})
	if body != "5" {
		t.Errorf("n = %s after the retried commit, want 5", body)
	}
}

// "default: 503, or 500 for ErrTooLarge and for a session its Codec
// refuses to encode, with a plain body that leaks nothing"; "MaxDataSize bounds an encoded session (default 1 MiB; 0 or
// less: no bound); larger saves fail with ErrTooLarge."
func TestOutsiderDataSizeCap(t *testing.T) {
	big := strings.Repeat("x", 1<<20) // encoded with the record, over 1 MiB
	small := strings.Repeat("x", 1<<20-200)
	tests := []struct {
		name   string
		max    int
		value  string
		status int
	}{
		{"default over", -2, big, 500},
		{"default under", -2, small, 200},
		{"small cap", 100, strings.Repeat("y", 100), 500},
		{"zero: no bound", 0, big, 200},
		{"negative: no bound", -1, big, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) {
				if tt.max != -2 {
					m.MaxDataSize = tt.max
				}
			})
			resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Set("v", tt.value)
				fmt.Fprint(w, "handler")
			})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 500 {
				if strings.Contains(body, "handler") || strings.Contains(body, "yyy") {
					t.Errorf("body leaks: %q", body)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q, want a plain body", ct)
				}
				if sessionSetCookie(resp) != nil {
					t.Error("a cookie came with the 500")
				}
				if p.store.saves.Load() != 0 {
					t.Errorf("%d saves of a record over the cap", p.store.saves.Load())
				}
			}
		})
	}
}

// "Deleting a missing key is not a change." "Setting a value equal (in its
// JSON form) to the stored one is not a change." Pop is Get followed by
// Delete. Clear of a session with no values. None of them is written.
func TestOutsiderNoOpChanges(t *testing.T) {
	tests := []struct {
		name string
		op   func(s *sessionkit.Session)
	}{
		{"delete missing", func(s *sessionkit.Session) { s.Delete("missing") }},
		{"pop missing", func(s *sessionkit.Session) { sessionkit.Pop[string](s, "missing") }},
		{"set equal int", func(s *sessionkit.Session) { s.Set("n", 1) }},
		{"set equal float", func(s *sessionkit.Session) { s.Set("n", 1.0) }},
		{"set equal json.Number-ish", func(s *sessionkit.Session) { s.Set("m", map[string]int{"b": 2, "a": 1}) }},
		{"get and has", func(s *sessionkit.Session) { s.Has("n"); s.Keys() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) { m.TouchInterval = time.Hour })
			p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				s.Set("n", 1)
				s.Set("m", map[string]int{"a": 1, "b": 2})
			})
			before := p.store.counts()
			var status sessionkit.Status
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				tt.op(s)
				status = s.Status()
			})
			after := p.store.counts()
			if status != sessionkit.Unmodified {
				t.Errorf("Status %v, want Unmodified", status)
			}
			if after[1] != before[1] || after[2] != before[2] || after[3] != before[3] {
				t.Errorf("store calls %v -> %v, want only a load", before, after)
			}
			if c := sessionSetCookie(resp); c != nil {
				t.Errorf("cookie sent: %v", c)
			}
		})
	}
}

// "A new session is stored (and its cookie sent) only once it holds data":
// operations that leave a new session empty store nothing and send no
// cookie; "Touching a session that is not stored does nothing."
func TestOutsiderEmptyNewSessionNotStored(t *testing.T) {
	tests := []struct {
		name string
		op   func(s *sessionkit.Session) error
	}{
		{"clear", func(s *sessionkit.Session) error { s.Clear(); return nil }},
		{"set then delete", func(s *sessionkit.Session) error { s.Set("a", 1); s.Delete("a"); return nil }},
		{"touch", func(s *sessionkit.Session) error { return s.Touch() }},
		{"regenerate", func(s *sessionkit.Session) error { return s.Regenerate() }},
		{"id", func(s *sessionkit.Session) error { s.ID(); return nil }},
		{"save", func(s *sessionkit.Session) error { return s.Save() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, nil)
			var opErr error
			var isNew bool
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				opErr = tt.op(s)
				isNew = s.IsNew()
			})
			if opErr != nil {
				t.Errorf("op: %v", opErr)
			}
			if !isNew {
				t.Error("IsNew false for a session that was never stored")
			}
			if c := p.store.counts(); c[1] != 0 || c[2] != 0 {
				t.Errorf("store calls %v, want no save or touch", c)
			}
			if len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("Set-Cookie %q for an empty new session", resp.Header.Values("Set-Cookie"))
			}
			if ks := p.eventsOf(sessionkit.EventCreate); len(ks) != 0 {
				t.Errorf("EventCreate for a session never stored")
			}
		})
	}
}

// Events: EventCreate when a new session is stored for the first time
// (not for a Regenerate, nor later writes); EventRegenerate;
// EventDestroy "ended a stored session". "Regenerate gives the session a
// new ID, keeping its values and owner; the record under the old ID is
// deleted at commit."
func TestOutsiderLifecycleEventsAndCalls(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	if n := len(p.eventsOf(sessionkit.EventCreate)); n != 1 {
		t.Errorf("%d EventCreate on first store, want 1", n)
	}
	p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Set("n", 2) })
	if n := len(p.eventsOf(sessionkit.EventCreate)); n != 0 {
		t.Errorf("%d EventCreate on a later write", n)
	}

	old, _ := p.cookie()
	before := p.store.counts()
	var oldKey, newKey string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.SetUserKey("alice")
		oldKey = s.Key()
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
		newKey = s.Key()
	})
	after := p.store.counts()
	if after[1]-before[1] != 1 || after[3]-before[3] != 1 {
		t.Errorf("Regenerate: %d saves, %d deletes, want 1 and 1", after[1]-before[1], after[3]-before[3])
	}
	if oldKey == newKey || newKey == "" {
		t.Errorf("Key %q -> %q", oldKey, newKey)
	}
	if _, err := p.mem.Load(context.Background(), oldKey); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("old record: %v, want ErrNotFound", err)
	}
	if n := len(p.eventsOf(sessionkit.EventRegenerate)); n != 1 {
		t.Errorf("%d EventRegenerate", n)
	}
	if n := len(p.eventsOf(sessionkit.EventCreate)); n != 0 {
		t.Errorf("%d EventCreate for a regenerated session", n)
	}
	cur, _ := p.cookie()
	if cur.Value == old.Value {
		t.Error("cookie unchanged by Regenerate")
	}
	var n int
	var owner string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ = sessionkit.Get[int](s, "n")
		owner = s.UserKey()
	})
	if n != 2 || owner != "alice" {
		t.Errorf("after Regenerate n=%d owner=%q, want 2 and alice", n, owner)
	}

	// Destroy of a stored session.
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Destroy(); err != nil {
			t.Error(err)
		}
		if s.Status() != sessionkit.Destroyed {
			t.Errorf("Status %v after Destroy", s.Status())
		}
		if !s.IsNew() || s.Has("n") {
			t.Error("after Destroy the session is not a new, empty one")
		}
	})
	if n := len(p.eventsOf(sessionkit.EventDestroy)); n != 1 {
		t.Errorf("%d EventDestroy", n)
	}
	if c := sessionSetCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("Destroy's cookie %v, want a clearing one", c)
	}
	// Destroy of a session that was never stored ends no stored session.
	p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Destroy() })
	if n := len(p.eventsOf(sessionkit.EventDestroy)); n != 0 {
		t.Errorf("%d EventDestroy for a session never stored", n)
	}
}

// "Regenerate with nothing left to store" clears the client's cookie and
// deletes the record.
func TestOutsiderRegenerateNothingLeft(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	before := p.store.counts()
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Clear()
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
	})
	after := p.store.counts()
	if c := sessionSetCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("cookie %v, want a clearing one", c)
	}
	if _, ok := p.cookie(); ok {
		t.Error("browser still holds the cookie")
	}
	if after[3]-before[3] != 1 || after[1] != before[1] {
		t.Errorf("store calls %v -> %v, want one delete and no save", before, after)
	}
}

// Status: "Reload forgets uncommitted changes"; "Destroyed: ... and nothing
// was stored since"; values set after Destroy start a new session.
func TestOutsiderStatusTransitions(t *testing.T) {
	p := newProbe(t, nil)
	id := p.login()
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		check := func(step string, want sessionkit.Status) {
			t.Helper()
			if got := s.Status(); got != want {
				t.Errorf("%s: Status %v, want %v", step, got, want)
			}
		}
		check("unused", sessionkit.Unmodified)
		s.Set("n", 9)
		check("set", sessionkit.Modified)
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		check("reload", sessionkit.Unmodified)
		if n, _ := sessionkit.Get[int](s, "n"); n != 1 {
			t.Errorf("after Reload n=%d, want 1", n)
		}
		s.Destroy()
		check("destroy", sessionkit.Destroyed)
		s.Set("x", 1)
		check("set after destroy", sessionkit.Modified)
		if s.ID() == id || s.ID() == "" {
			t.Errorf("ID after Destroy+Set = %q (old %q)", s.ID(), id)
		}
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
		check("saved", sessionkit.Modified)
	})
	for _, st := range []struct {
		s    sessionkit.Status
		want string
	}{{sessionkit.Unmodified, "Unmodified"}, {sessionkit.Modified, "Modified"}, {sessionkit.Destroyed, "Destroyed"}} {
		if st.s.String() != st.want {
			t.Errorf("String %q, want %q", st.s.String(), st.want)
		}
	}
}

// "Key returns the store key of the session ("" while it has no ID)";
// "Stores see only the SHA-256 of an ID (Manager.RawKeys turns that off)";
// "A new session gets its ID on first call".
func TestOutsiderKeysAndIDs(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) { m.RawKeys = raw })
			var keyBefore, id, key string
			p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				keyBefore = s.Key()
				s.Set("a", 1)
				id = s.ID()
				key = s.Key()
				if s.ID() != id {
					t.Error("ID changed between calls")
				}
			})
			if keyBefore != "" {
				t.Errorf("Key before any ID = %q", keyBefore)
			}
			if key != p.m.KeyOf(id) {
				t.Errorf("Key %q != KeyOf(ID) %q", key, p.m.KeyOf(id))
			}
			if raw && key != id {
				t.Errorf("RawKeys: key %q != id", key)
			}
			if !raw && (key == id || strings.Contains(key, id)) {
				t.Errorf("hashed key %q shows the ID", key)
			}
			if _, err := p.mem.Load(context.Background(), key); err != nil {
				t.Errorf("store has no record under Key: %v", err)
			}
			ck, _ := p.cookie()
			if ck.Value != id {
				t.Errorf("cookie %q != ID %q", ck.Value, id)
			}
		})
	}
}

// "RandomIDs is the default IDScheme: 32 bytes (256 bits) from crypto/rand,
// base64url without padding (43 characters)"; "ValidID ... accepts exactly
// the canonical encoding of 32 bytes."
func TestOutsiderRandomIDs(t *testing.T) {
	var ids sessionkit.RandomIDs
	id := ids.NewID()
	if len(id) != 43 || !ids.ValidID(id) || strings.ContainsAny(id, "+/=") {
		t.Fatalf("NewID %q", id)
	}
	// The last character carries 4 padding bits; canonical ones are 0.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, id[42])
	nonCanon := id[:42] + string(alphabet[last|1])
	for _, bad := range []string{"", id[:42], id + "A", id + "=", strings.ReplaceAll(id, id[:1], "+"), nonCanon, strings.Repeat("A", 43) + "\n"} {
		if bad == id {
			continue
		}
		if ids.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

// "Tokens that are not well-formed are ignored without a store call";
// "garbage cookies are "no session", never a 500".
func TestOutsiderGarbageTokensCostNothing(t *testing.T) {
	valid := sessionkit.RandomIDs{}.NewID()
	tokens := []string{
		"x", valid[:42], valid + "A", strings.Repeat("A", 5000), "%ZZ", valid[:42] + "=",
		"../../etc/passwd", valid[:42] + ".", "s:" + valid,
	}
	for _, tok := range tokens {
		t.Run(fmt.Sprintf("%.12q", tok), func(t *testing.T) {
			p := newProbe(t, nil)
			req, _ := http.NewRequest("GET", p.srv.URL, nil)
			req.Header.Set("Cookie", "session="+tok)
			p.mu.Lock()
			p.h = func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				fmt.Fprint(w, s.Has("n"), s.IsNew())
			}
			p.mu.Unlock()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
			if c := p.store.counts(); c != [4]int64{} {
				t.Errorf("store calls %v for a malformed token", c)
			}
			if len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("Set-Cookie %q", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// Manager.Load / LoadKey: unknown or malformed IDs wrap ErrNotFound;
// a client-side Manager gives ErrNotSupported; ID is "" after LoadKey;
// Regenerate needs a new token (ErrNoClient).
func TestOutsiderLoadErrors(t *testing.T) {
	p := newProbe(t, nil)
	id := p.login()
	ctx := context.Background()
	for _, bad := range []string{"", "garbage", sessionkit.RandomIDs{}.NewID()} {
		if _, err := p.m.Load(ctx, bad); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Errorf("Load(%q): %v, want ErrNotFound", bad, err)
		}
	}
	if _, err := p.m.LoadKey(ctx, "no-such-key"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("LoadKey(unknown): %v", err)
	}
	s, err := p.m.LoadKey(ctx, p.m.KeyOf(id))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "" {
		t.Errorf("LoadKey session ID %q, want \"\"", s.ID())
	}
	if s.Key() != p.m.KeyOf(id) {
		t.Errorf("LoadKey session Key %q", s.Key())
	}
	s, err = p.m.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	errR := s.Regenerate()
	errS := s.Save()
	if !errors.Is(errR, sessionkit.ErrNoClient) && !errors.Is(errS, sessionkit.ErrNoClient) {
		t.Errorf("Regenerate outside a request: %v, Save: %v; want ErrNoClient", errR, errS)
	}
	if _, err := p.m.Load(ctx, id); err != nil {
		t.Errorf("session gone after a refused Regenerate: %v", err)
	}
	if p.m.Store() == nil {
		t.Error("Store() nil for a server-side Manager")
	}
}

// A nil *Session (no middleware) reports ErrNoSession.
func TestOutsiderNilSession(t *testing.T) {
	var s *sessionkit.Session
	checks := map[string]error{
		"Set":            s.Set("a", 1),
		"Destroy":        s.Destroy(),
		"Regenerate":     s.Regenerate(),
		"Save":           s.Save(),
		"Reload":         s.Reload(),
		"Touch":          s.Touch(),
		"RememberMe":     s.RememberMe(true),
		"SetIdleTimeout": s.SetIdleTimeout(time.Hour),
		"SetDeadline":    s.SetDeadline(time.Now().Add(time.Hour)),
		"SetUserKey":     s.SetUserKey("u"),
		"Err":            s.Err(),
	}
	_, checks["Get"] = sessionkit.Get[int](s, "a")
	_, checks["Pop"] = sessionkit.Pop[int](s, "a")
	for name, err := range checks {
		if !errors.Is(err, sessionkit.ErrNoSession) {
			t.Errorf("%s on nil session: %v, want ErrNoSession", name, err)
		}
	}
	s.Delete("a")
	s.Clear()
	if s.Has("a") || s.ID() != "" || s.Key() != "" || s.Status() != sessionkit.Unmodified || len(s.Keys()) != 0 {
		t.Error("nil session reads not empty")
	}
}

// A session that could not be loaded: "Has ... is false", Get "yields an
// error", "ID ... is "" ... when the session could not be loaded", Err is
// the cause, and the request ends with the ErrorHandler's answer.
func TestOutsiderFailedLoad(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	p.store.failLoad.Store(true)
	resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if s.Has("n") {
			t.Error("Has true")
		}
		if _, err := sessionkit.Get[int](s, "n"); err == nil {
			t.Error("Get: nil error")
		}
		if s.ID() != "" {
			t.Errorf("ID %q", s.ID())
		}
		if !errors.Is(s.Err(), errProbe) {
			t.Errorf("Err %v", s.Err())
		}
		fmt.Fprint(w, "handler")
	})
	if resp.StatusCode != 503 || strings.Contains(body, "handler") || strings.Contains(body, "probe") {
		t.Errorf("got %d %q, want the 503 that leaks nothing", resp.StatusCode, body)
	}
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	if _, ok := p.cookie(); !ok {
		t.Error("a failed load cost the browser its cookie")
	}
}

// "MaxRetries ... 0 or less: a save that loses fails at once with
// ErrTooManyConflicts".
func TestOutsiderNoRetries(t *testing.T) {
	for _, n := range []int{0, -1} {
		p := newProbe(t, func(m *sessionkit.Manager) { m.MaxRetries = n })
		p.login()
		p.store.conflictSave.Store(true)
		before := p.store.saves.Load()
		var saveErr error
		resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			s.Set("n", 2)
			saveErr = s.Save()
		})
		if !errors.Is(saveErr, sessionkit.ErrTooManyConflicts) {
			t.Errorf("MaxRetries %d: Save %v", n, saveErr)
		}
		if got := p.store.saves.Load() - before; got != 2 { // Save, then the commit at return
			t.Errorf("MaxRetries %d: %d store saves, want 2 (one per attempt, no retries)", n, got)
		}
		if resp.StatusCode != 503 {
			t.Errorf("status %d", resp.StatusCode)
		}
	}
}

// TouchInterval "0 or less: on every request"; a quarter of the idle
// timeout at most.
func TestOutsiderTouchIntervalZero(t *testing.T) {
	for _, ti := range []time.Duration{0, -time.Second} {
		p := newProbe(t, func(m *sessionkit.Manager) { m.TouchInterval = ti })
		p.login()
		for i := 0; i < 3; i++ {
			p.clock.Advance(time.Millisecond)
			before := p.store.touches.Load()
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Has("n") })
			if p.store.touches.Load()-before != 1 {
				t.Errorf("TouchInterval %v: read %d made %d touches", ti, i, p.store.touches.Load()-before)
			}
			if c := sessionSetCookie(resp); c == nil {
				t.Errorf("TouchInterval %v: read %d: no cookie after a touch that moved the expiry", ti, i)
			}
		}
	}
}

// Rolling modes, read-only requests and Touch, from the Rolling docs.
func TestOutsiderRollingReadsAndTouch(t *testing.T) {
	tests := []struct {
		mode                  sessionkit.Rolling
		readTouches, readCook bool // a plain read after 10 minutes
		touchTouches          bool // Session.Touch after 10 more minutes
	}{
		{sessionkit.RollingThrottled, true, true, true},
		{sessionkit.RollingAlways, true, true, true},
		{sessionkit.RollingNever, false, false, false},
		{sessionkit.RollingOnWrite, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) { m.Rolling = tt.mode })
			p.login()
			p.clock.Advance(10 * time.Minute)
			before := p.store.counts()
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Has("n") })
			after := p.store.counts()
			if got := after[2] > before[2]; got != tt.readTouches {
				t.Errorf("read touched the store: %v, want %v", got, tt.readTouches)
			}
			if after[1] != before[1] {
				t.Error("a read saved")
			}
			if got := sessionSetCookie(resp) != nil; got != tt.readCook {
				t.Errorf("read sent a cookie: %v, want %v", got, tt.readCook)
			}
			p.clock.Advance(10 * time.Minute)
			before = p.store.counts()
			resp, _ = p.serve(func(w http.ResponseWriter, r *http.Request) {
				if err := sessionkit.From(r.Context()).Touch(); err != nil {
					t.Error(err)
				}
			})
			after = p.store.counts()
			if got := after[2] > before[2]; got != tt.touchTouches {
				t.Errorf("Touch touched the store: %v, want %v", got, tt.touchTouches)
			}
			if got := sessionSetCookie(resp) != nil; got != tt.touchTouches {
				t.Errorf("Touch sent a cookie: %v, want %v", got, tt.touchTouches)
			}
			if c := sessionSetCookie(resp); c != nil && c.MaxAge != int((2*time.Hour).Seconds()) {
				t.Errorf("Touch cookie Max-Age %d, want 7200", c.MaxAge)
			}
		})
	}
}

// RollingNever: "the cookie is sent only when the session is created,
// changes ID or its remember-me choice, or (a persistent one) when a new
// idle timeout or deadline moves its expiry"; the expiry is Created + idle.
func TestOutsiderRollingNeverCookies(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingNever })
	p.login()
	created := p.clock.Now()
	steps := []struct {
		name   string
		op     func(s *sessionkit.Session)
		cookie bool
	}{
		{"write", func(s *sessionkit.Session) { s.Set("n", 2) }, false},
		{"remember-me off", func(s *sessionkit.Session) { s.RememberMe(false) }, true},
		{"write again", func(s *sessionkit.Session) { s.Set("n", 3) }, false},
		{"remember-me on", func(s *sessionkit.Session) { s.RememberMe(true) }, true},
		{"idle timeout", func(s *sessionkit.Session) { s.SetIdleTimeout(time.Hour) }, true},
		{"regenerate", func(s *sessionkit.Session) { s.Regenerate() }, true},
	}
	for _, st := range steps {
		p.clock.Advance(5 * time.Minute)
		var exp time.Time
		resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			st.op(s)
			exp = s.Expires()
		})
		if got := sessionSetCookie(resp) != nil; got != st.cookie {
			t.Errorf("%s: cookie sent %v, want %v", st.name, got, st.cookie)
		}
		want := created.Add(2 * time.Hour).Truncate(time.Millisecond)
		if st.name == "idle timeout" || st.name == "regenerate" {
			want = created.Add(time.Hour).Truncate(time.Millisecond)
		}
		if !exp.Equal(want) {
			t.Errorf("%s: Expires %v, want Created + idle %v", st.name, exp, want)
		}
		if c, ok := p.cookie(); ok && !c.Expires.IsZero() && c.Expires.Sub(want).Abs() > time.Second {
			t.Errorf("%s: browser's cookie expires %v, want %v", st.name, c.Expires, want)
		}
	}
}

// Lifetime 0: "no absolute deadline", Deadline() zero; IdleTimeout 0: "no
// idle timeout", the session ends at its deadline and the cookie with it.
func TestOutsiderOneLimitOnly(t *testing.T) {
	t.Run("no lifetime", func(t *testing.T) {
		p := newProbe(t, func(m *sessionkit.Manager) { m.Lifetime = 0 })
		p.login()
		p.serve(func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			if !s.Deadline().IsZero() {
				t.Errorf("Deadline %v, want zero", s.Deadline())
			}
			if s.Expires().Sub(p.clock.Now().Add(2*time.Hour)).Abs() >= time.Millisecond {
				t.Errorf("Expires %v", s.Expires())
			}
		})
		for i := 0; i < 30; i++ { // 30 hours of use every hour, past 24h
			p.clock.Advance(time.Hour)
			p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Has("n") })
		}
		var has bool
		p.serve(func(w http.ResponseWriter, r *http.Request) { has = sessionkit.From(r.Context()).Has("n") })
		if !has {
			t.Error("session without a Lifetime ended while in use")
		}
	})
	t.Run("no idle timeout", func(t *testing.T) {
		p := newProbe(t, func(m *sessionkit.Manager) { m.IdleTimeout = 0; m.Lifetime = 3 * time.Hour })
		resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			s.Set("n", 1)
			if s.IdleTimeout() != 0 {
				t.Errorf("IdleTimeout %v, want 0", s.IdleTimeout())
			}
			if s.Expires().Sub(s.Deadline()).Abs() >= time.Millisecond || !s.Deadline().Equal(p.clock.Now().Add(3*time.Hour)) {
				t.Errorf("Expires %v Deadline %v", s.Expires(), s.Deadline())
			}
		})
		if c := sessionSetCookie(resp); c == nil || c.MaxAge != 3*3600 {
			t.Errorf("cookie %v, want Max-Age 10800", c)
		}
		p.clock.Advance(2*time.Hour + 59*time.Minute)
		var has bool
		p.serve(func(w http.ResponseWriter, r *http.Request) { has = sessionkit.From(r.Context()).Has("n") })
		if !has {
			t.Error("session ended before its deadline with no idle timeout")
		}
		p.clock.Advance(2 * time.Minute)
		p.serve(func(w http.ResponseWriter, r *http.Request) { has = sessionkit.From(r.Context()).Has("n") })
		if has {
			t.Error("session outlived its deadline")
		}
	})
}

// HeaderTransport: the scheme is compared case-insensitively and must be
// followed by a space; an empty Session-Token means "forget your token";
// Vary names the request header; a token-setting response beside public
// caching gets private="Session-Token".
func TestOutsiderHeaderTransport(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.Transport = sessionkit.NewHeaderTransport() })
	p.mu.Lock()
	p.h = func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		switch r.URL.Path {
		case "/login":
			w.Header().Set("Cache-Control", "public, max-age=60")
			s.Set("n", 1)
		case "/logout":
			s.Destroy()
		default:
			fmt.Fprint(w, s.Has("n"))
		}
	}
	p.mu.Unlock()
	do := func(path, auth string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	resp, _ := do("/login", "")
	tok := resp.Header.Get("Session-Token")
	if tok == "" {
		t.Fatal("no Session-Token")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, `private="Session-Token"`) || !strings.Contains(cc, "public") {
		t.Errorf("Cache-Control %q", cc)
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Authorization") {
		t.Errorf("Vary %q", resp.Header.Values("Vary"))
	}
	for _, tt := range []struct {
		auth string
		want string
	}{
		{"Bearer " + tok, "true"},
		{"bearer " + tok, "true"},
		{"BEARER " + tok, "true"},
		{"Bearer" + tok, "false"},
		{"Basic " + tok, "false"},
		{tok, "false"},
		{"Bearer ", "false"},
	} {
		resp, body := do("/", tt.auth)
		if body != tt.want || resp.StatusCode != 200 {
			t.Errorf("Authorization %.14q: %d %q, want %q", tt.auth, resp.StatusCode, body, tt.want)
		}
		if v, ok := resp.Header["Session-Token"]; ok {
			t.Errorf("Authorization %.14q: Session-Token %q on a read", tt.auth, v)
		}
	}
	resp, _ = do("/logout", "Bearer "+tok)
	if v, ok := resp.Header["Session-Token"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("logout Session-Token %q (present %v), want one empty value", v, ok)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private" {
		t.Errorf("logout Cache-Control %q, want private", cc)
	}
}

// TrustedProxies: "the right-most X-Forwarded-For entry that is not itself
// a trusted proxy"; IsHTTPS: "a trusted proxy whose last X-Forwarded-Proto
// says https".
func TestOutsiderTrustedProxies(t *testing.T) {
	tp, err := sessionkit.NewTrustedProxies("10.0.0.0/8", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "garbage", "10.0.0.0/33", "300.1.1.1"} {
		if _, err := sessionkit.NewTrustedProxies(bad); err == nil {
			t.Errorf("NewTrustedProxies(%q): nil error", bad)
		}
	}
	tests := []struct {
		remote string
		xff    []string
		xfp    []string
		ip     string
		https  bool
	}{
		{"203.0.113.9:1", []string{"1.2.3.4"}, []string{"https"}, "203.0.113.9", false},
		{"10.1.1.1:1", []string{"1.2.3.4"}, []string{"https"}, "1.2.3.4", true},
		{"10.1.1.1:1", []string{"9.9.9.9, 1.2.3.4, 10.2.2.2"}, []string{"http, https"}, "1.2.3.4", true},
		{"10.1.1.1:1", []string{"9.9.9.9", "1.2.3.4"}, []string{"https", "http"}, "1.2.3.4", false},
		{"10.1.1.1:1", []string{"garbage"}, []string{"HTTPS"}, "10.1.1.1", true},
		{"10.1.1.1:1", nil, nil, "10.1.1.1", false},
		{"10.1.1.1:1", []string{"10.3.3.3, 127.0.0.1"}, []string{"https, http"}, "10.1.1.1", false},
		{"10.1.1.1:1", []string{"garbage, 1.2.3.4"}, nil, "1.2.3.4", false},
		{"10.1.1.1:1", []string{"1.2.3.4, garbage"}, nil, "10.1.1.1", false},
		{"10.1.1.1:1", []string{"1.2.3.4:5678"}, nil, "10.1.1.1", false},
		{"10.1.1.1:1", []string{"9.9.9.9", "1.2.3.4, 10.2.2.2"}, []string{" HTTPS "}, "1.2.3.4", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		for _, v := range tt.xfp {
			r.Header.Add("X-Forwarded-Proto", v)
		}
		if got := tp.ClientIP(r).String(); got != tt.ip {
			t.Errorf("%s %q: ClientIP %s, want %s", tt.remote, tt.xff, got, tt.ip)
		}
		if got := tp.IsHTTPS(r); got != tt.https {
			t.Errorf("%s %q: IsHTTPS %v, want %v", tt.remote, tt.xfp, got, tt.https)
		}
	}
	var none *sessionkit.TrustedProxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.1.1:1"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if none.IsHTTPS(r) || none.ClientIP(r).String() != "10.1.1.1" {
		t.Error("a nil TrustedProxies trusted a proxy")
	}
}

// NewHMACSigner: every key at least MinKeyLen bytes; format token + "." +
// base64url(HMAC-SHA256(key, token)).
func TestOutsiderHMACSigner(t *testing.T) {
	if _, err := sessionkit.NewHMACSigner(make([]byte, sessionkit.MinKeyLen-1)); !errors.Is(err, sessionkit.ErrWeakKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := sessionkit.NewHMACSigner(make([]byte, 32), make([]byte, 31)); !errors.Is(err, sessionkit.ErrWeakKey) {
		t.Errorf("short second key: %v", err)
	}
	if _, err := sessionkit.NewHMACSigner(); err == nil {
		t.Error("no keys: nil error")
	}
	s, err := sessionkit.NewHMACSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	signed := s.Sign("tok")
	tok, sig, ok := strings.Cut(signed, ".")
	if !ok || tok != "tok" || len(sig) != 43 || strings.ContainsAny(sig, "+/=") {
		t.Errorf("Sign = %q", signed)
	}
	if got, ok := s.Verify(signed); !ok || got != "tok" {
		t.Errorf("Verify(%q) = %q %v", signed, got, ok)
	}
	for _, bad := range []string{"", "tok", "tok.", signed + "x", "tok2." + sig, "." + sig} {
		if _, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%q) = ok", bad)
		}
	}
}

// JSONCodec: the documented record layout.
func TestOutsiderJSONCodecLayout(t *testing.T) {
	created := time.UnixMilli(1700000000000)
	st := &sessionkit.State{
		Created:    created,
		LastActive: created.Add(300 * time.Second),
		Persistent: true,
		Values:     []sessionkit.Value{{Key: "count", JSON: []byte("3")}},
	}
	b, err := sessionkit.JSONCodec{}.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"created":1700000000000,"active":1700000300000,"persistent":true,"values":{"count":3}}`; string(b) != want {
		t.Errorf("Encode = %s\nwant     %s", b, want)
	}
	st.IdleTimeout = time.Minute
	st.Deadline = created.Add(time.Hour)
	b, _ = sessionkit.JSONCodec{}.Encode(st)
	s := string(b)
	ii, di, vi := strings.Index(s, `"idle":60000`), strings.Index(s, `"deadline":1700003600000`), strings.Index(s, `"values"`)
	if ii < 0 || di < 0 || ii > vi || di > vi {
		t.Errorf("own lifetime encoding %s", s)
	}
	got, err := sessionkit.JSONCodec{}.Decode([]byte(`{"created":1,"zzz":[1,{"a":2}],"values":{"b":{"x": 1},"a":"s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Values) != 2 || got.Values[0].Key != "a" || string(got.Values[1].JSON) != `{"x": 1}` {
		t.Errorf("Decode values %+v (keys by name, bytes kept)", got.Values)
	}
	for _, bad := range []string{"", "null", "[]", `{"values":[]}`, `{"created":"x"}`, `{`, `{"values":{"a":}}`} {
		if _, err := (sessionkit.JSONCodec{}).Decode([]byte(bad)); err == nil && bad != "null" {
			t.Errorf("Decode(%q): nil error", bad)
		}
	}
}

// "Observe reports e to the Observer, if there is one, filling in Store
// (and Ctx when it is nil)"; Event.Err "never for ErrNotFound or
// ErrConflict, which Outcome reports".
func TestOutsiderObserveAndOutcomes(t *testing.T) {
	p := newProbe(t, nil)
	p.m.Observe(sessionkit.Event{Kind: sessionkit.EventLogin})
	p.mu.Lock()
	e := p.events[len(p.events)-1]
	p.mu.Unlock()
	if e.Store != "memstore" && e.Store == "" {
		t.Errorf("Observe: Store %q", e.Store)
	}
	if e.Ctx == nil {
		t.Error("Observe: Ctx nil")
	}
	// A well-formed unknown token: a load that finds nothing.
	req, _ := http.NewRequest("GET", p.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: sessionkit.RandomIDs{}.NewID()})
	p.mu.Lock()
	p.events = nil
	p.h = func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Has("n") }
	p.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loads := p.eventsOf(sessionkit.EventLoad)
	if len(loads) != 1 || loads[0].Outcome != sessionkit.OutcomeNotFound || loads[0].Err != nil {
		t.Errorf("load events %+v, want one NotFound with no Err", loads)
	}
	if len(p.eventsOf(sessionkit.EventError)) != 0 {
		t.Error("EventError for an unknown token")
	}
	for _, k := range []sessionkit.EventKind{sessionkit.EventLoad, sessionkit.EventSave, sessionkit.EventTouch, sessionkit.EventDelete} {
		if !k.StoreOp() {
			t.Errorf("%v.StoreOp false", k)
		}
	}
	for _, k := range []sessionkit.EventKind{sessionkit.EventCreate, sessionkit.EventConflict, sessionkit.EventError, sessionkit.EventLogin} {
		if k.StoreOp() {
			t.Errorf("%v.StoreOp true", k)
		}
	}
}

// "A Manager not made by New or NewClientSide" and "an HMACSigner not made
// by NewHMACSigner" are refused: every request gets the ErrorHandler's
// answer, no store call, no cookie.
func TestOutsiderZeroValuesRefused(t *testing.T) {
	var zero sessionkit.Manager
	srv := httptest.NewServer(zero.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "handler")
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("zero Manager: status %d", resp.StatusCode)
	}
	p := newProbe(t, func(m *sessionkit.Manager) {
		m.Logger = discardLogger()
		m.Cookie.Signer = &sessionkit.HMACSigner{}
	})
	resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
		fmt.Fprint(w, "handler")
	})
	if resp.StatusCode != 503 || body == "handler" || p.store.counts() != [4]int64{} || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("zero HMACSigner: %d %q calls %v", resp.StatusCode, body, p.store.counts())
	}
}

// SetIdleTimeout / SetDeadline with odd arguments never panic; a
// negative idle timeout is refused or harmless.
func TestOutsiderLifetimeArguments(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		err := s.SetIdleTimeout(-time.Hour)
		if err == nil && s.IdleTimeout() < 0 {
			t.Errorf("SetIdleTimeout(-1h) accepted: IdleTimeout %v", s.IdleTimeout())
		}
		fmt.Fprint(w, strconv.Quote(fmt.Sprint(err)))
	})
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	var has bool
	p.serve(func(w http.ResponseWriter, r *http.Request) { has = sessionkit.From(r.Context()).Has("n") })
	if !has {
		t.Error("a negative idle timeout ended the session")
	}
}

// "Session.IdleTimeout and Session.Deadline report the values in force,
// Session.Expires the resulting expiry"; Expires is "the earlier of its
// idle expiry and its absolute deadline". A change the handler made is in
// force for it before the commit: Expires reports the expiry the commit
// saves, and agrees with the cookie's.
func TestOutsiderExpiresFollowsPendingChanges(t *testing.T) {
	tests := []struct {
		name    string
		rolling sessionkit.Rolling
		op      func(s *sessionkit.Session, now time.Time)
		want    func(now, created time.Time) time.Time
	}{
		{"deadline earlier", sessionkit.RollingThrottled,
			func(s *sessionkit.Session, now time.Time) { s.SetDeadline(now.Add(10 * time.Minute)) },
			func(now, _ time.Time) time.Time { return now.Add(10 * time.Minute) }},
		{"shorter idle timeout", sessionkit.RollingThrottled,
			func(s *sessionkit.Session, _ time.Time) { s.SetIdleTimeout(30 * time.Minute) },
			func(now, _ time.Time) time.Time { return now.Add(30 * time.Minute) }},
		{"longer idle timeout", sessionkit.RollingThrottled,
			func(s *sessionkit.Session, _ time.Time) { s.SetIdleTimeout(5 * time.Hour) },
			func(now, _ time.Time) time.Time { return now.Add(5 * time.Hour) }},
		{"write", sessionkit.RollingThrottled,
			func(s *sessionkit.Session, _ time.Time) { s.Set("n", 7) },
			func(now, _ time.Time) time.Time { return now.Add(2 * time.Hour) }},
		{"touch", sessionkit.RollingOnWrite,
			func(s *sessionkit.Session, _ time.Time) { s.Touch() },
			func(now, _ time.Time) time.Time { return now.Add(2 * time.Hour) }},
		{"write, on-write", sessionkit.RollingOnWrite,
			func(s *sessionkit.Session, _ time.Time) { s.Set("n", 7) },
			func(now, _ time.Time) time.Time { return now.Add(2 * time.Hour) }},
		{"read, on-write", sessionkit.RollingOnWrite,
			func(s *sessionkit.Session, _ time.Time) { s.Has("n") },
			func(_, created time.Time) time.Time { return created.Add(2 * time.Hour) }},
		{"idle timeout, never", sessionkit.RollingNever,
			func(s *sessionkit.Session, _ time.Time) { s.SetIdleTimeout(time.Hour) },
			func(_, created time.Time) time.Time { return created.Add(time.Hour) }},
		{"write, never", sessionkit.RollingNever,
			func(s *sessionkit.Session, _ time.Time) { s.Set("n", 7) },
			func(_, created time.Time) time.Time { return created.Add(2 * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) { m.Rolling = tt.rolling })
			created := p.clock.Now()
			p.login()
			p.clock.Advance(20 * time.Minute)
			now := p.clock.Now()
			var inHandler time.Time
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				tt.op(s, now)
				inHandler = s.Expires()
			})
			want := tt.want(now, created).Truncate(time.Millisecond)
			if !inHandler.Equal(want) {
				t.Errorf("Expires in the handler %v, want %v", inHandler, want)
			}
			var next time.Time
			p.serve(func(w http.ResponseWriter, r *http.Request) { next = sessionkit.From(r.Context()).Expires() })
			if !next.Equal(want) {
				t.Errorf("Expires after the commit %v, want %v", next, want)
			}
			if c := sessionSetCookie(resp); c != nil && c.MaxAge > 0 {
				if got := now.Add(time.Duration(c.MaxAge) * time.Second); got.Sub(want).Abs() > time.Second {
					t.Errorf("cookie Max-Age %d, expires %v, want %v", c.MaxAge, got, want)
				}
			}
		})
	}
}

// The clearing cookie (Destroy) carries the attributes the cookie was set
// with, or a browser would not drop it: Domain, Path, Secure, SameSite,
// Partitioned.
func TestOutsiderClearingCookieAttributes(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) {
		m.Cookie.Domain = "example.test"
		m.Cookie.Path = "/app"
		m.Cookie.Secure = sessionkit.SecureAlways
		m.Cookie.SameSite = http.SameSiteStrictMode
		m.Cookie.Partitioned = true
	})
	// The jar would not keep a Domain=example.test cookie for 127.0.0.1:
	// send the token by hand.
	var id string
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		id = s.ID()
	})
	set := resp.Header.Get("Set-Cookie")
	req, _ := http.NewRequest("GET", p.srv.URL+"/app/logout", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: id})
	p.mu.Lock()
	p.h = func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Destroy() }
	p.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	clear := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"session=;", "Domain=example.test", "Path=/app", "Secure", "HttpOnly", "SameSite=Strict", "Partitioned", "Max-Age=0"} {
		if !strings.Contains(clear, want) {
			t.Errorf("clearing Set-Cookie %q lacks %q (set was %q)", clear, want, set)
		}
	}
}

// "A change made after the headers went out is still saved when no new
// cookie is needed, and otherwise reported (ErrHeadersSent) through the
// Logger and the Observer."
func TestOutsiderChangesAfterHeaders(t *testing.T) {
	tests := []struct {
		name     string
		stored   bool
		op       func(s *sessionkit.Session)
		reported bool
		check    func(t *testing.T, p *probe, oldKey string)
	}{
		{"set on stored", true, func(s *sessionkit.Session) { s.Set("n", 5) }, false,
			func(t *testing.T, p *probe, _ string) {
				var n int
				p.serve(func(w http.ResponseWriter, r *http.Request) {
					n, _ = sessionkit.Get[int](sessionkit.From(r.Context()), "n")
				})
				if n != 5 {
					t.Errorf("n = %d, want 5", n)
				}
			}},
		{"destroy", true, func(s *sessionkit.Session) { s.Destroy() }, false,
			func(t *testing.T, p *probe, oldKey string) {
				if _, err := p.mem.Load(context.Background(), oldKey); !errors.Is(err, sessionkit.ErrNotFound) {
					t.Errorf("record after a late Destroy: %v, want ErrNotFound (logout must end it)", err)
				}
			}},
		{"regenerate", true, func(s *sessionkit.Session) { s.Regenerate() }, true,
			func(t *testing.T, p *probe, oldKey string) {
				var n int
				p.serve(func(w http.ResponseWriter, r *http.Request) {
					n, _ = sessionkit.Get[int](sessionkit.From(r.Context()), "n")
				})
				if n != 1 {
					t.Errorf("after a refused late Regenerate the client's session reads n=%d, want 1", n)
				}
			}},
		{"set on new", false, func(s *sessionkit.Session) { s.Set("n", 5) }, true,
			func(t *testing.T, p *probe, _ string) {
				if n, _ := p.mem.Stats(); n != 0 {
					t.Errorf("%d records stored for a session no client can hold", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, nil)
			if tt.stored {
				p.login()
			}
			var oldKey string
			resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				s.Has("n")
				oldKey = s.Key()
				fmt.Fprint(w, "body")
				w.(http.Flusher).Flush()
				tt.op(s)
			})
			if resp.StatusCode != 200 || body != "body" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			var reported bool
			for _, e := range p.eventsOf(sessionkit.EventError) {
				if errors.Is(e.Err, sessionkit.ErrHeadersSent) {
					reported = true
				}
			}
			if reported != tt.reported {
				t.Errorf("ErrHeadersSent observed: %v, want %v (events %v)", reported, tt.reported, p.kinds())
			}
			tt.check(t, p, oldKey)
		})
	}
}

// "An unmodified session is never rewritten": Save on it makes no store
// write; Reload "reads the session from the store again".
func TestOutsiderSaveAndReloadCalls(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.TouchInterval = time.Hour })
	p.login()
	before := p.store.counts()
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Has("n")
		if err := s.Save(); err != nil {
			t.Error(err)
		}
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
	})
	after := p.store.counts()
	if after[0]-before[0] != 2 || after[1] != before[1] || after[2] != before[2] {
		t.Errorf("store calls %v -> %v, want 2 loads (first use, Reload) and no write", before, after)
	}
}

// Clear "removes every value but keeps the session (its ID and owner)";
// Keys are "in stored order" (new keys appended); Get of a value that does
// not decode into T is an error; a missing key is the zero T and nil.
func TestOutsiderValuesAPI(t *testing.T) {
	p := newProbe(t, nil)
	var id string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("b", "x")
		s.Set("a", 2)
		s.SetUserKey("alice")
		if got := strings.Join(s.Keys(), ","); got != "b,a" {
			t.Errorf("Keys %q, want b,a (appended)", got)
		}
		if _, err := sessionkit.Get[int](s, "b"); err == nil {
			t.Error("Get[int] of a string: nil error")
		}
		if v, err := sessionkit.Get[[]string](s, "missing"); v != nil || err != nil {
			t.Errorf("missing: %v %v", v, err)
		}
		id = s.ID()
	})
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		v, err := sessionkit.Pop[string](s, "b")
		if v != "x" || err != nil || s.Has("b") {
			t.Errorf("Pop %q %v, Has after %v", v, err, s.Has("b"))
		}
	})
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if s.Has("b") {
			t.Error("popped value back")
		}
		s.Clear()
		if len(s.Keys()) != 0 || s.Status() != sessionkit.Modified {
			t.Errorf("after Clear: keys %v status %v", s.Keys(), s.Status())
		}
	})
	if c := sessionSetCookie(resp); c != nil && c.Value != id {
		t.Errorf("Clear changed the cookie to %q", c.Value)
	}
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if s.ID() != id || s.UserKey() != "alice" || s.IsNew() || len(s.Keys()) != 0 {
			t.Errorf("after Clear: id kept %v, owner %q, new %v, keys %v", s.ID() == id, s.UserKey(), s.IsNew(), s.Keys())
		}
	})
}

// HeaderTransport under RollingAlways: the response header comes "on every
// response that uses the session".
func TestOutsiderHeaderTransportRollingAlways(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) {
		m.Transport = &sessionkit.HeaderTransport{}
		m.Rolling = sessionkit.RollingAlways
	})
	p.mu.Lock()
	p.h = func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if r.URL.Path == "/login" {
			s.Set("n", 1)
			return
		}
		if r.URL.Path == "/use" {
			s.Has("n")
		}
	}
	p.mu.Unlock()
	get := func(path, tok string) *http.Response {
		req, _ := http.NewRequest("GET", p.srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tok := get("/login", "").Header.Get("Session-Token")
	if tok == "" {
		t.Fatal("no token")
	}
	for i := 0; i < 2; i++ {
		p.clock.Advance(time.Second)
		if got := get("/use", tok).Header.Get("Session-Token"); got != tok {
			t.Errorf("use %d: Session-Token %q, want the token again", i, got)
		}
	}
	if _, ok := get("/idle", tok).Header["Session-Token"]; ok {
		t.Error("Session-Token on a response that did not use the session")
	}
}

// CookieTransport.MaxSize: "writing a longer one is the Manager's
// ErrTooLarge" (500 by default); a longer incoming value is ignored.
func TestOutsiderCookieMaxSize(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.Cookie.MaxSize = 20 })
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Set("n", 1) })
	if resp.StatusCode != 500 || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("status %d, Set-Cookie %q; want 500 and no cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}

// A cookie whose HMAC signature does not verify is ignored, with no store
// call.
func TestOutsiderBadSignatureNoStoreCall(t *testing.T) {
	signer, err := sessionkit.NewHMACSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	p := newProbe(t, func(m *sessionkit.Manager) { m.Cookie.Signer = signer })
	id := sessionkit.RandomIDs{}.NewID()
	other, _ := sessionkit.NewHMACSigner([]byte(strings.Repeat("o", 32)))
	for _, v := range []string{id, other.Sign(id), id + ".", signer.Sign(id) + "x"} {
		req, _ := http.NewRequest("GET", p.srv.URL, nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: v})
		p.mu.Lock()
		p.h = func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Has("n") }
		p.mu.Unlock()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := p.store.counts(); c != [4]int64{} || resp.StatusCode != 200 {
			t.Errorf("cookie %.20q: status %d, store calls %v", v, resp.StatusCode, c)
		}
	}
}

// Manager.Info decodes a record as the Manager would: Deadline is zero
// when the session has none; IdleTimeout is its own or the default.
func TestOutsiderInfo(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.Lifetime = 0 })
	var key string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		s.SetUserKey("bob")
		s.ID()
		key = s.Key()
	})
	rec, err := p.mem.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.m.Info(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Deadline.IsZero() || info.IdleTimeout != 2*time.Hour || !info.Expires.Equal(rec.Expiry) ||
		info.UserKey != "bob" || !info.Persistent || len(info.Values) != 1 {
		t.Errorf("Info %+v", info)
	}
	if _, err := p.m.Info(sessionkit.Record{Data: []byte("garbage")}); err == nil {
		t.Error("Info of garbage: nil error")
	}
}

// A Session from Load: a background change keeps the client's expiry
// (Expires included), and the session is "valid as long as ctx is".
func TestOutsiderLoadedSession(t *testing.T) {
	p := newProbe(t, nil)
	id := p.login()
	p.clock.Advance(30 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.m.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Expires()
	s.Set("n", 2)
	if !s.Expires().Equal(before) {
		t.Errorf("Expires moved by a background change: %v -> %v", before, s.Expires())
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if !s.Expires().Equal(before) {
		t.Errorf("Expires after Save %v, want %v", s.Expires(), before)
	}
	cancel()
	s.Set("n", 3)
	if err := s.Save(); err == nil {
		t.Error("Save after ctx ended: nil error")
	}
}

// LastActive "returns when the session was last used, to within its touch
// interval": in a handler, the uses before this request until the
// request's own is committed.
func TestOutsiderLastActiveInHandler(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	used := p.clock.Now().Truncate(time.Millisecond)
	p.clock.Advance(20 * time.Minute)
	now := p.clock.Now().Truncate(time.Millisecond)
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if got := s.LastActive(); got.Sub(used).Abs() > time.Millisecond {
			t.Errorf("LastActive on a read %v, want the previous use %v", got, used)
		}
		s.Set("n", 2)
		if got := s.LastActive(); got.Sub(used).Abs() > time.Millisecond {
			t.Errorf("LastActive before the commit %v, want the previous use %v", got, used)
		}
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
		if got := s.LastActive(); got.Sub(now).Abs() > time.Millisecond {
			t.Errorf("LastActive after Save %v, want now %v", got, now)
		}
	})
	p.clock.Advance(10 * time.Minute)
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		if got := sessionkit.From(r.Context()).LastActive(); got.Sub(now).Abs() > time.Millisecond {
			t.Errorf("next request: LastActive %v, want %v", got, now)
		}
	})
}

// Status "never loads the session"; the first Get, Set, Has or similar
// does.
func TestOutsiderWhatLoads(t *testing.T) {
	tests := []struct {
		name  string
		op    func(s *sessionkit.Session)
		loads bool
	}{
		{"status", func(s *sessionkit.Session) { s.Status() }, false},
		{"nothing", func(s *sessionkit.Session) {}, false},
		{"save", func(s *sessionkit.Session) { s.Save() }, false},
		{"has", func(s *sessionkit.Session) { s.Has("n") }, true},
		{"get", func(s *sessionkit.Session) { sessionkit.Get[int](s, "n") }, true},
		{"keys", func(s *sessionkit.Session) { s.Keys() }, true},
		{"id", func(s *sessionkit.Session) { s.ID() }, true},
		{"set", func(s *sessionkit.Session) { s.Set("n", 2) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, nil)
			p.login()
			before := p.store.loads.Load()
			resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) { tt.op(sessionkit.From(r.Context())) })
			if got := p.store.loads.Load() > before; got != tt.loads {
				t.Errorf("loaded: %v, want %v", got, tt.loads)
			}
			vary := strings.Join(resp.Header.Values("Vary"), ",")
			if got := strings.Contains(vary, "Cookie"); got != tt.loads {
				t.Errorf("Vary %q; used %v", vary, tt.loads)
			}
		})
	}
}

// "A t that has already passed ends the session as Destroy does", on a new
// session too: nothing is stored.
func TestOutsiderPastDeadlineOnNewSession(t *testing.T) {
	p := newProbe(t, nil)
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		if err := s.SetDeadline(p.clock.Now().Add(-time.Second)); err != nil {
			t.Error(err)
		}
		if s.Has("n") || s.Status() != sessionkit.Destroyed {
			t.Errorf("after a past deadline: has %v, status %v", s.Has("n"), s.Status())
		}
	})
	if n, _ := p.mem.Stats(); n != 0 {
		t.Errorf("%d records", n)
	}
	if c := sessionSetCookie(resp); c != nil && c.MaxAge >= 0 {
		t.Errorf("cookie %v", c)
	}
}

// HeaderTransport: "Empty means "Bearer" when the request header is
// Authorization, and no scheme for any other header"; MaxSize bounds the
// token read; Vary names the custom header.
func TestOutsiderHeaderTransportCustom(t *testing.T) {
	tests := []struct {
		name string
		ht   *sessionkit.HeaderTransport
		hdr  string
		val  func(tok string) string
		ok   bool
	}{
		{"custom header, raw", &sessionkit.HeaderTransport{RequestHeader: "X-Session"}, "X-Session", func(t string) string { return t }, true},
		{"custom header, bearer is not stripped", &sessionkit.HeaderTransport{RequestHeader: "X-Session"}, "X-Session", func(t string) string { return "Bearer " + t }, false},
		{"custom scheme", &sessionkit.HeaderTransport{Scheme: "Token"}, "Authorization", func(t string) string { return "token " + t }, true},
		{"custom scheme, bearer refused", &sessionkit.HeaderTransport{Scheme: "Token"}, "Authorization", func(t string) string { return "Bearer " + t }, false},
		{"scheme on custom header", &sessionkit.HeaderTransport{RequestHeader: "X-Session", Scheme: "S"}, "X-Session", func(t string) string { return "S " + t }, true},
		{"over MaxSize", &sessionkit.HeaderTransport{MaxSize: 30}, "Authorization", func(t string) string { return "Bearer " + t }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, func(m *sessionkit.Manager) { m.Transport = tt.ht })
			var id string
			p.mu.Lock()
			p.h = func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if r.URL.Path == "/login" {
					s.Set("n", 1)
					id = s.ID()
					return
				}
				fmt.Fprint(w, s.Has("n"))
			}
			p.mu.Unlock()
			// Log in through the Manager's own store (a login over the
			// transport needs a readable token first).
			resp, err := http.Get(p.srv.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 && tt.name != "over MaxSize" {
				t.Fatalf("login %d", resp.StatusCode)
			}
			if id == "" {
				t.Fatal("no id")
			}
			req, _ := http.NewRequest("GET", p.srv.URL+"/", nil)
			req.Header.Set(tt.hdr, tt.val(id))
			before := p.store.loads.Load()
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 16)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if got := string(b[:n]) == "true"; got != tt.ok {
				t.Errorf("token accepted %v, want %v", got, tt.ok)
			}
			if !tt.ok && p.store.loads.Load() != before {
				t.Errorf("refused token cost a store load")
			}
			if vary := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(vary, tt.hdr) {
				t.Errorf("Vary %q, want %s", vary, tt.hdr)
			}
		})
	}
}

// "A new session's is now."
func TestOutsiderLastActiveOfNewSession(t *testing.T) {
	p := newProbe(t, nil)
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if got, now := s.LastActive(), p.clock.Now(); got.Sub(now).Abs() > time.Millisecond {
			t.Errorf("LastActive of a new session %v, want now %v", got, now)
		}
		if got, now := s.Created(), p.clock.Now(); got.Sub(now).Abs() > time.Millisecond {
			t.Errorf("Created of a new session %v, want now %v", got, now)
		}
	})
}

// "If the commit fails ... the cause is logged"; ErrorHandler gets the
// cause (errors.Is the store's error, or ErrTooLarge).
func TestOutsiderErrorHandlerAndLogGetTheCause(t *testing.T) {
	tests := []struct {
		name string
		prep func(p *probe)
		op   func(s *sessionkit.Session)
		want error
	}{
		{"store down", func(p *probe) { p.store.failSave.Store(true) }, func(s *sessionkit.Session) { s.Set("n", 2) }, errProbe},
		{"too large", func(p *probe) {}, func(s *sessionkit.Session) { s.Set("big", strings.Repeat("x", 2<<20)) }, sessionkit.ErrTooLarge},
		{"load down", func(p *probe) { p.store.failLoad.Store(true) }, func(s *sessionkit.Session) { s.Has("n") }, errProbe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			var mu sync.Mutex
			var got error
			p := newProbe(t, func(m *sessionkit.Manager) {
				m.Logger = slogTo(&lockedWriter{mu: &mu, w: &logs})
				m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					mu.Lock()
					got = err
					mu.Unlock()
					http.Error(w, "custom", http.StatusTeapot)
				}
			})
			p.login()
			tt.prep(p)
			resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
				tt.op(sessionkit.From(r.Context()))
				fmt.Fprint(w, "handler")
			})
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != http.StatusTeapot || body != "custom" {
				t.Errorf("%d %q, want the ErrorHandler's", resp.StatusCode, body)
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("ErrorHandler err %v, want %v", got, tt.want)
			}
			if !strings.Contains(logs.String(), tt.want.Error()) {
				t.Errorf("log %q lacks the cause", logs.String())
			}
		})
	}
}

// Session methods "are safe for concurrent use by goroutines of the same
// request": concurrent Sets are all saved.
func TestOutsiderConcurrentUseInOneRequest(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Set("k"+strconv.Itoa(i), i)
				s.Has("n")
				s.Expires()
			}()
		}
		wg.Wait()
	})
	var n int
	p.serve(func(w http.ResponseWriter, r *http.Request) { n = len(sessionkit.From(r.Context()).Keys()) })
	if n != 21 {
		t.Errorf("%d keys, want 21", n)
	}
}

// Client-side sessions: ID is "", Load is ErrNotSupported, Store is nil.
func TestOutsiderClientSideBasics(t *testing.T) {
	cs, err := cookiestore.New("session", []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	m := sessionkit.NewClientSide(cs)
	m.Logger = discardLogger()
	if m.Store() != nil {
		t.Error("Store() not nil")
	}
	if _, err := m.Load(context.Background(), sessionkit.RandomIDs{}.NewID()); !errors.Is(err, sessionkit.ErrNotSupported) {
		t.Errorf("Load: %v", err)
	}
	if _, err := m.LoadKey(context.Background(), "k"); !errors.Is(err, sessionkit.ErrNotSupported) {
		t.Errorf("LoadKey: %v", err)
	}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		fmt.Fprintf(w, "%q %q", s.ID(), s.Key())
	})))
	defer srv.Close()
	c, err := browser.NewClient(srv.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := c.Do("GET", "/")
	if err != nil {
		t.Fatal(err)
	}
	if body != `"" ""` {
		t.Errorf("ID, Key = %s, want both empty", body)
	}
}

// RememberMe(false): a browser-session cookie (no Max-Age) that a
// restart drops, while "the server still applies the idle timeout"; "The
// idle timeout does not make the cookie persistent".
func TestOutsiderBrowserSessionCookie(t *testing.T) {
	p := newProbe(t, nil)
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		s.RememberMe(false)
		s.SetIdleTimeout(10 * time.Minute)
	})
	c := sessionSetCookie(resp)
	if c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("cookie %v, want a browser-session cookie", c)
	}
	has := func() bool {
		var h bool
		p.serve(func(w http.ResponseWriter, r *http.Request) { h = sessionkit.From(r.Context()).Has("n") })
		return h
	}
	p.clock.Advance(9 * time.Minute)
	if !has() {
		t.Fatal("ended before its idle timeout")
	}
	p.clock.Advance(11 * time.Minute)
	if has() {
		t.Error("a browser-session cookie outlived the session's idle timeout on the server")
	}
	// A second one: a browser restart drops it.
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		s.RememberMe(false)
	})
	p.client.Jar.Restart()
	if has() {
		t.Error("the session survived a browser restart")
	}
}

// "A session destroyed or revoked meanwhile stays gone: its changes are
// dropped, and a Regenerate does not bring its values back under a new
// ID" — revoked by another process between this request's load and its
// commit, for a write, a touch and a Regenerate.
func TestOutsiderRevokedDuringRequest(t *testing.T) {
	for _, op := range []string{"write", "touch", "regenerate", "idle timeout"} {
		t.Run(op, func(t *testing.T) {
			p := newProbe(t, nil)
			p.login()
			p.clock.Advance(10 * time.Minute)
			resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				s.Has("n")
				if err := p.mem.Delete(r.Context(), s.Key()); err != nil {
					t.Fatal(err)
				}
				switch op {
				case "write":
					s.Set("n", 2)
				case "touch":
					s.Touch()
				case "regenerate":
					s.Regenerate()
				case "idle timeout":
					s.SetIdleTimeout(time.Hour)
				}
				fmt.Fprint(w, "ok")
			})
			if resp.StatusCode != 200 || body != "ok" {
				t.Errorf("%d %q", resp.StatusCode, body)
			}
			if n, _ := p.mem.Stats(); n != 0 {
				t.Errorf("%d records: the revoked session came back", n)
			}
			if c := sessionSetCookie(resp); c != nil && c.MaxAge >= 0 {
				t.Errorf("a live cookie %v for a revoked session", c)
			}
		})
	}
}

// Regenerate's doc: when the old session ended meanwhile, "the values
// carried over are dropped: the session is the new, empty one Destroy
// would have left, holding only what the request wrote since Regenerate
// (every write counts, even of a value the session already held)" — as a
// login writes the same user again.
func TestOutsiderRevokedBeforeRegenerateCommit(t *testing.T) {
	p := newProbe(t, nil)
	oldID := p.login()
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("carried", 1)
		if err := p.mem.Delete(r.Context(), s.Key()); err != nil {
			t.Error(err)
		}
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
		s.Set("n", 1) // as stored
		s.Set("m", 2)
	})
	c := sessionSetCookie(resp)
	if c == nil || c.MaxAge < 0 || c.Value == oldID {
		t.Fatalf("cookie %v, want a new live one", c)
	}
	if n, _ := p.mem.Stats(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	if n := len(p.eventsOf(sessionkit.EventCreate)); n != 1 {
		t.Errorf("%d EventCreate, want 1: what is left is a new session", n)
	}
	var keys []string
	p.serve(func(w http.ResponseWriter, r *http.Request) { keys = sessionkit.From(r.Context()).Keys() })
	if slices.Sort(keys); !slices.Equal(keys, []string{"m", "n"}) {
		t.Errorf("keys %v, want m and n: the writes since Regenerate and nothing carried over", keys)
	}
}

// Regenerate's doc: "Another request of the same client that regenerated
// the same session and committed first (a double-submitted login form)
// has deleted the old record too: the later one likewise keeps only its
// own writes."
func TestOutsiderRegenerateAfterSiblingRegenerate(t *testing.T) {
	p := newProbe(t, nil)
	id := p.login()
	var outer, inner []string
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Has("n")
		sibling := r.Header.Get("X-Sibling") != ""
		if !sibling {
			req, _ := http.NewRequest("GET", p.srv.URL, nil)
			req.Header.Set("X-Sibling", "1")
			req.AddCookie(&http.Cookie{Name: "session", Value: id})
			if resp, err := p.srv.Client().Do(req); err != nil {
				t.Error(err)
			} else {
				resp.Body.Close()
			}
		}
		s.Regenerate()
		s.Set("login", 1)
		if err := s.Save(); err != nil {
			t.Error(err)
		}
		keys := s.Keys()
		slices.Sort(keys)
		if sibling {
			inner = keys
		} else {
			outer = keys
		}
	})
	if !slices.Equal(inner, []string{"login", "n"}) || !slices.Equal(outer, []string{"login"}) {
		t.Errorf("first to commit holds %v, the later one %v; want [login n] and [login]", inner, outer)
	}
	if n, _ := p.mem.Stats(); n != 2 {
		t.Errorf("%d records, want 2 (one per request)", n)
	}
}

// A failed check of the old record fails the commit and leaves the
// session as it was: the old ID still opens it, nothing else is stored,
// and a later commit moves it.
func TestOutsiderRegenerateCheckFails(t *testing.T) {
	p := newProbe(t, nil)
	oldID := p.login()
	var errFirst, errSecond error
	var firstID string
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Has("n")
		s.Regenerate()
		firstID = s.ID()
		p.store.failLoad.Store(true)
		errFirst = s.Save()
		p.store.failLoad.Store(false)
		if n, _ := p.mem.Stats(); n != 1 {
			t.Errorf("after the failed commit %d records, want 1 (the old one)", n)
		}
		errSecond = s.Save()
	})
	if !errors.Is(errFirst, errProbe) || errSecond != nil {
		t.Errorf("Save: %v, then %v; want the store's error, then nil", errFirst, errSecond)
	}
	c := sessionSetCookie(resp)
	if c == nil || c.Value == oldID || c.Value == firstID || c.MaxAge < 0 {
		t.Errorf("cookie %v, want a live one under an ID of the retry's", c)
	}
	if n, _ := p.mem.Stats(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	var n int
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		n, _ = sessionkit.Get[int](sessionkit.From(r.Context()), "n")
	})
	if n != 1 {
		t.Errorf("n = %d after the move, want 1", n)
	}
}

// Set refuses values encoding/json cannot encode, and changes nothing.
func TestOutsiderSetUnencodable(t *testing.T) {
	p := newProbe(t, nil)
	p.login()
	before := p.store.saves.Load()
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		for _, v := range []any{make(chan int), func() {}, json.RawMessage("{not json"), math.Inf(1)} {
			if err := s.Set("n", v); err == nil {
				t.Errorf("Set(%T): nil error", v)
			}
		}
		if n, err := sessionkit.Get[int](s, "n"); n != 1 || err != nil || s.Status() != sessionkit.Unmodified {
			t.Errorf("after refused Sets: n=%d err=%v status %v", n, err, s.Status())
		}
	})
	if resp.StatusCode != 200 || p.store.saves.Load() != before {
		t.Errorf("status %d, %d saves", resp.StatusCode, p.store.saves.Load()-before)
	}
}

// TestOutsiderSessionFirstUsedAfterHandler: ErrSessionAfterHandler's doc —
// changes and Save after the Handler returned return it; a session the
// request never used is not loaded afterwards (no store call), its Get
// returning ErrSessionAfterHandler and its Has finding nothing.
func TestOutsiderSessionFirstUsedAfterHandler(t *testing.T) {
	p := newProbe(t, nil)
	p.serve(func(w http.ResponseWriter, r *http.Request) { sessionkit.From(r.Context()).Set("k", "v") })
	type result struct {
		get, set, save error
		has            bool
	}
	results := make(chan result, 1)
	before := p.store.counts()
	p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		go func() {
			// The request is over once its Handler returned: wait for
			// that through the response, not a timer.
			<-r.Context().Done()
			_, get := sessionkit.Get[string](s, "k")
			has := s.Has("k")
			results <- result{get, s.Set("k", "late"), s.Save(), has}
		}()
	})
	res := <-results
	if !errors.Is(res.get, sessionkit.ErrSessionAfterHandler) || !errors.Is(res.set, sessionkit.ErrSessionAfterHandler) ||
		!errors.Is(res.save, sessionkit.ErrSessionAfterHandler) || res.has {
		t.Errorf("after the handler: Get %v, Set %v, Save %v, Has %v; want ErrSessionAfterHandler and false", res.get, res.set, res.save, res.has)
	}
	if after := p.store.counts(); after != before {
		t.Errorf("store calls %v after the handler, were %v; want none", after, before)
	}
	if n := len(p.eventsOf(sessionkit.EventError)); n != 1 {
		t.Errorf("%d error events, want one ErrSessionAfterHandler", n)
	}
}
