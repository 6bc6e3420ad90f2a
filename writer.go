package sessionkit

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// errResponseReplaced is returned to a handler writing a body after the
// session failed to commit and the ErrorHandler answered instead.
var errResponseReplaced = errors.New("sessionkit: response replaced by the session error handler")

// responseWriter commits the session just before the response headers go
// out. It is embedded in Session so that a request costs one allocation
// for both.
type responseWriter struct {
	http.ResponseWriter
	s            *Session
	wroteHeader  bool
	failed       bool // the ErrorHandler answered; the handler's output is dropped
	bypassed     bool // the headers went out around this writer (bypass.go)
	ended        bool // Handler returned (bypass.go); guarded by s.mu
	reportedLate bool
}

// commit runs the session commit before headers are written. On failure it
// answers with the ErrorHandler and reports false.
func (w *responseWriter) commit() bool {
	s := w.s
	s.mu.Lock()
	err := s.commitLocked()
	if err == nil {
		s.writeHeaders(w.ResponseWriter)
	}
	w.wroteHeader = true
	s.mu.Unlock()
	if err != nil {
		w.failed = true
		clear(w.ResponseWriter.Header()) // nothing the handler prepared leaks into the error
		s.m.fail(w.ResponseWriter, s.r, err)
		return false
	}
	return true
}

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: headers still to come
		return
	}
	if !w.wroteHeader && !w.commit() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseReplaced
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the session (if the headers are not out yet) and flushes.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// FlushError is Flush for http.ResponseController, reporting errors.
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session and hands over the connection. Cookie changes
// cannot be sent on a hijacked connection, so a commit that needs a new
// token fails the hijack.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.wroteHeader {
		s := w.s
		s.mu.Lock()
		err := s.commitLocked()
		w.wroteHeader = true
		s.mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// finish runs after the handler returns: it commits a session whose handler
// wrote nothing, and saves or reports changes made after the headers went
// out.
func (w *responseWriter) finish() {
	defer w.end()
	if !w.wroteHeader {
		if !w.wentAround() {
			w.commit()
			return
		}
		w.reportBypass() // then only what needs no new cookie is saved
		w.wroteHeader = true
	}
	if w.failed {
		return
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded || (len(s.ops) == 0 && len(s.oldKeys) == 0 && !s.renewed && !s.touchNow) {
		return
	}
	changed := len(s.ops) > 0
	if err := s.commitLocked(); err != nil {
		s.m.logger().ErrorContext(s.r.Context(), "session change lost: made after the response headers were sent", "err", err, "path", s.r.URL.Path)
		s.m.observe(Event{Kind: EventError, Ctx: s.r.Context(), Err: err})
		return
	}
	// A late Touch alone is documented use (a long response keeping its
	// session alive, see Session.Touch): only changed values are warned
	// about.
	if changed {
		s.m.logger().WarnContext(s.r.Context(), "session changed after the response headers were sent; saved, but commit before writing the response", "path", s.r.URL.Path)
	}
}
