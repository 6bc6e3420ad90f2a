package sessionkit

import (
	"errors"
	"net/http"
)

// ErrResponseBypassed reports a response that went out around the
// http.ResponseWriter Manager.Handler gave its handler: written to the
// writer Handler itself received (or one outside it), so the session could
// not be committed, nor its cookie sent, before the headers went out. It
// is the mark of a framework middleware that passes the session's request
// on but keeps writing through the framework's own writer. Use the
// framework adapters (contrib/gin, contrib/echo), or hand the handler's
// writer on as well.
var ErrResponseBypassed = errors.New("sessionkit: the response was written around the writer Manager.Handler gave the handler; the session could not be committed before the headers went out (new sessions are not stored; mount the middleware so that the handler writes through that writer, e.g. with contrib/gin or contrib/echo)")

// ErrSessionAfterHandler reports a session used after the Manager.Handler
// that made it returned: its commit has run, so nothing done to it now is
// saved or sent. Changes (Set, Regenerate, Destroy, Touch, …) and Save
// return it, whether or not the request's context is still open; reads
// still see the session as the request left it, and a session the request
// never used is not loaded afterwards: its reads return
// ErrSessionAfterHandler too (Get) or find nothing (Has, Keys). It is the
// mark of a goroutine that outlives its request
// (use Manager.Load for background work), or of middleware adapted so that
// the session middleware ends before the handlers run.
var ErrSessionAfterHandler = errors.New("sessionkit: session used after its Manager.Handler returned; its changes are not saved (the session middleware must wrap the handlers that use the session; background work should use Manager.Load)")

// A response writer can tell Handler that its headers went out, so that a
// response written around the session's writer is reported instead of
// silently losing the cookie. Handler looks, through Unwrap, for either:
//
//   - Written() bool, true once the headers are out (gin's ResponseWriter,
//     negroni's);
//   - Before(func()), which registers a function to run just before the
//     headers go out (echo's Response).
//
// net/http's own writer offers neither: a handler that writes to the
// server's writer directly, around the one Handler gave it, cannot be
// detected.
type (
	writtenReporter interface{ Written() bool }
	beforeHooker    interface{ Before(func()) }
	unwrapper       interface{ Unwrap() http.ResponseWriter }
)

// maxUnwrap bounds the walk down a chain of wrapped writers.
const maxUnwrap = 16

// watch registers with a writer that announces its headers (echo's
// Response) so that headers going out around w are noticed.
func (w *responseWriter) watch() {
	if h, ok := w.ResponseWriter.(beforeHooker); ok {
		h.Before(w.headersGoingOut)
	}
}

func (w *responseWriter) headersGoingOut() {
	if !w.wroteHeader {
		w.bypassed = true
	}
}

// wentAround reports whether the response's headers went out without
// passing through w.
func (w *responseWriter) wentAround() bool {
	if w.bypassed {
		return true
	}
	inner := w.ResponseWriter
	for range maxUnwrap {
		if r, ok := inner.(writtenReporter); ok && r.Written() {
			return true
		}
		u, ok := inner.(unwrapper)
		if !ok {
			return false
		}
		inner = u.Unwrap()
	}
	return false
}

// reportBypass logs and observes a response written around w.
func (w *responseWriter) reportBypass() {
	s := w.s
	s.m.logger().ErrorContext(s.r.Context(), ErrResponseBypassed.Error(), "method", s.r.Method, "path", s.r.URL.Path)
	s.m.observe(Event{Kind: EventError, Ctx: s.r.Context(), Err: ErrResponseBypassed})
}

// end marks the request's middleware as returned.
func (w *responseWriter) end() {
	w.s.mu.Lock()
	w.ended = true
	w.s.mu.Unlock()
}

// checkLive reports, once, a session used after its middleware returned.
// s.mu must be held.
func (s *Session) checkLive() {
	if !s.w.ended || s.w.reportedLate {
		return
	}
	s.w.reportedLate = true
	s.m.logger().ErrorContext(s.r.Context(), ErrSessionAfterHandler.Error(), "method", s.r.Method, "path", s.r.URL.Path)
	s.m.observe(Event{Kind: EventError, Ctx: s.r.Context(), Err: ErrSessionAfterHandler})
}
