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

// endedStored reports kind when the session being ended was stored (a
// Destroy of a session that was never stored ends nothing).
func (s *Session) endedStored(kind EventKind) {
	if s.stored {
		s.event(kind)
	}
}
