package sessionkit

import (
	"reflect"
	"strings"
)

// Observe reports e to the Observer, if there is one, filling in Store
// (and Ctx when it is nil). It is for packages built on the Manager, such
// as auth, that report their own events (EventLogin, EventLoginFailed).
func (m *Manager) Observe(e Event) {
	m.observe(e)
}

// event reports a session lifecycle event for the request.
func (s *Session) event(kind EventKind) {
	s.m.observe(Event{Kind: kind, Ctx: s.r.Context()})
}

// kindOf names a store by the last element of its Go package path
// ("redisstore" for *redisstore.Store), which keeps Event.Store bounded
// without stores having to name themselves.
func kindOf(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := t.PkgPath()
	if p == "" {
		return t.String()
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// innermost follows Unwrap() Store from store to the store it wraps.
func innermost(store Store) Store {
	for range 16 { // a wrapper that unwraps to itself must not loop forever
		w, ok := store.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		inner := w.Unwrap()
		if inner == nil {
			break
		}
		store = inner
	}
	return store
}

// lifecycleEvents are the lifecycle events a commit has made true but not
// yet reported: EventCreate and EventRegenerate once the session is
// stored under its new ID, EventDestroy once Destroy has ended a stored
// session. They are reported when the whole commit has succeeded (the
// records it replaces deleted too), so that an Observer counts what was
// committed, not what a handler asked for: a failed commit reports none
// of them (it reports EventError), and they wait for the commit that
// succeeds.
type lifecycleEvents uint8

const (
	pendingDestroy lifecycleEvents = 1 << iota
	pendingRegenerate
	pendingCreate
)

// reportCommitted reports the lifecycle events of the commit that has
// just succeeded: the end of the old session first, then the new one.
// s.mu must be held.
func (s *Session) reportCommitted() {
	p := s.pending
	s.pending = 0
	if p&pendingDestroy != 0 {
		s.event(EventDestroy)
	}
	if p&pendingRegenerate != 0 {
		s.event(EventRegenerate)
	}
	if p&pendingCreate != 0 {
		s.event(EventCreate)
	}
}
