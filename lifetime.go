package sessionkit

import (
	"errors"
	"fmt"
	"time"
)

// Rolling says how use extends a session's idle expiry and when the cookie
// is sent again. Whatever the mode, a persistent cookie is sent again
// whenever the session's expiry in the store moves, so the browser never
// drops a cookie the server still honours, nor keeps one much longer.
type Rolling int

const (
	// RollingThrottled, the default, extends a session's idle expiry on
	// every use. A write saves the new expiry with the data; a request
	// that only reads moves it with a cheap Touch at most once per touch
	// interval (the smaller of Manager.TouchInterval and a quarter of the
	// session's idle timeout). A session last used at T therefore ends
	// between T + idle − interval and T + idle. A persistent cookie is
	// sent again with every write or touch that moves the expiry (one
	// already capped by the absolute deadline does not move).
	//
	// This is express-session's default (rolling: false, resave: false,
	// whose store touch runs on every request), except that the cookie's
	// expiry follows the store's: express-session sends it again only
	// when the session changed.
	RollingThrottled Rolling = iota

	// RollingAlways extends the idle expiry on every request that uses
	// the session, without a throttle (each such request writes or
	// touches the store), and sends the cookie on every such response:
	// a session last used at T ends exactly at T + idle. It is
	// express-session's and koa-session's rolling: true. A handler that
	// never uses its session does not load it, so does not extend it;
	// call Session.Touch on routes that should.
	RollingAlways

	// RollingNever fixes a session's expiry when it is created: it ends
	// at Created + idle timeout (or at its absolute deadline, if that
	// comes first), however it is used. Writes keep that expiry and the
	// cookie is sent only when the session is created, changes ID or its
	// remember-me choice, or (a persistent one) when a new idle timeout
	// or deadline moves its expiry.
	RollingNever

	// RollingOnWrite extends a session's idle expiry only when a request
	// changes it: the write saves it with the new expiry, now + idle
	// timeout, and a persistent cookie is sent again with it (unless the
	// absolute deadline caps the expiry where it was). A request that only
	// reads the session does not extend it (Session.Touch still does), so
	// a session last changed at T ends at T + idle however often it is
	// read. It is koa-session's, koa-generic-session's and
	// cookie-session's default: they save a session, and set its cookie
	// with a fresh maxAge, only when it changed.
	RollingOnWrite
)

var rollingNames = [...]string{"RollingThrottled", "RollingAlways", "RollingNever", "RollingOnWrite"}

func (r Rolling) String() string {
	if r >= 0 && int(r) < len(rollingNames) {
		return rollingNames[r]
	}
	return fmt.Sprintf("Rolling(%d)", int(r))
}

// idleTimeout is the idle lifetime of a session: its own, or the default.
func (m *Manager) idleTimeout(st State) time.Duration {
	if st.IdleTimeout > 0 {
		return st.IdleTimeout
	}
	return max(m.IdleTimeout, 0)
}

// deadline is the absolute end of a session, or zero when it has none.
func (m *Manager) deadline(st State) time.Time {
	if !st.Deadline.IsZero() {
		return st.Deadline
	}
	if m.Lifetime > 0 {
		return st.Created.Add(m.Lifetime)
	}
	return time.Time{}
}

// expiry is when a session used at now expires if it is not used again:
// the earlier of its idle expiry and its deadline, to the millisecond that
// stores and codecs keep.
func (m *Manager) expiry(st State, now time.Time) time.Time {
	d := m.deadline(st)
	idle := m.idleTimeout(st)
	if idle <= 0 {
		return d.Truncate(time.Millisecond)
	}
	base := now
	if m.Rolling == RollingNever {
		base = st.Created
	}
	if exp := base.Add(idle); d.IsZero() || exp.Before(d) {
		return exp.Truncate(time.Millisecond)
	}
	return d.Truncate(time.Millisecond)
}

// touchInterval is the throttle for extending the idle expiry of a
// session with idle timeout idle.
func (m *Manager) touchInterval(idle time.Duration) time.Duration {
	switch m.Rolling {
	case RollingAlways:
		return 0
	case RollingOnWrite:
		return 1<<63 - 1 // reads never extend it
	}
	ti := max(m.TouchInterval, 0)
	if idle > 0 {
		ti = min(ti, idle/4)
	}
	return ti
}

// lastActive combines the last write with the last touch, which the
// record's expiry reveals: a use at t saved the expiry min(t + idle,
// deadline), so t is at least expiry − idle. While the expiry is
// idle-bound that is t exactly; once it is capped by the deadline it is
// the earliest the last use can have been (a background write must not
// move such an expiry back). st must be the state rec was saved with:
// the expiry was computed with its idle timeout.
func (m *Manager) lastActive(st State, rec Record) time.Time {
	last := st.LastActive
	idle := m.idleTimeout(st)
	if m.Rolling == RollingNever || idle <= 0 || rec.Expiry.IsZero() {
		return last
	}
	if touched := rec.Expiry.Add(-idle); touched.After(last) {
		last = touched
	}
	return last
}

// reportedLastActive is lastActive as callers are told it: never after
// now. A record whose expiry lies further ahead than its idle timeout
// reaches (a Node store keeping browser-session records for its own ttl,
// longer than the Manager's IdleTimeout) would otherwise read as used in
// the future. The commit paths keep the uncapped value, so that such an
// expiry is not cut short.
func (m *Manager) reportedLastActive(st State, rec Record) time.Time {
	return m.notAfterNow(m.lastActive(st, rec))
}

// notAfterNow returns t, or now if t is later.
func (m *Manager) notAfterNow(t time.Time) time.Time {
	if now := m.now(); t.After(now) {
		return now
	}
	return t
}

// storedLastActive is lastActive of the session as stored, before this
// request's pending changes (a new idle timeout would misread the
// stored expiry). s.mu must be held.
func (s *Session) storedLastActive() time.Time {
	st := s.st
	if len(s.ops) > 0 && s.stored {
		stored, err := s.m.Codec.Decode(s.rec.Data)
		if err != nil {
			return st.LastActive
		}
		st = stored
	}
	return s.m.lastActive(st, s.rec)
}

// errBadLifetime reports an idle timeout a session cannot have.
var errBadLifetime = errors.New("sessionkit: negative idle timeout")

// IdleTimeout returns the session's idle lifetime: its own (see
// SetIdleTimeout) or the Manager's IdleTimeout. Zero means it has none.
func (s *Session) IdleTimeout() time.Duration {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	return s.m.idleTimeout(s.st)
}

// SetIdleTimeout gives this session its own idle lifetime d, in place of
// the Manager's IdleTimeout, as express-session's req.session.cookie.maxAge
// or koa-session's ctx.session.maxAge do: from now on the session ends d
// after its last use (still no later than its deadline), and a persistent
// cookie is sent with the new expiry. d = 0 goes back to the Manager's
// default. The choice is saved with the session, so every later request,
// every store and every process sharing it honour it.
//
// The idle timeout does not make the cookie persistent: that is
// RememberMe's choice. A "remember me for 30 days" login is typically
//
//	s.RememberMe(true)
//	s.SetIdleTimeout(30 * 24 * time.Hour)
//	s.SetDeadline(time.Now().Add(90 * 24 * time.Hour)) // if Manager.Lifetime is shorter
func (s *Session) SetIdleTimeout(d time.Duration) error {
	if s == nil {
		return ErrNoSession
	}
	if d < 0 {
		return fmt.Errorf("%w: %v", errBadLifetime, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if !s.noChange(s.st.IdleTimeout == d) {
		s.apply(op{kind: opSetIdle, idle: d})
	}
	return nil
}

// Deadline returns the session's absolute deadline: its own (see
// SetDeadline) or its creation time plus the Manager's Lifetime. It is
// zero when the session has none.
func (s *Session) Deadline() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	return s.m.deadline(s.st)
}

// SetDeadline gives this session its own absolute deadline t, in place of
// its creation time plus the Manager's Lifetime: the session ends at t
// however busy it is, or earlier when it is idle for its idle timeout.
// The deadline may be later than the default (a long "remember me"
// login) or earlier (a session that must end at a set time, such as a
// checkout hold). A zero t goes back to the default. A t that has already
// passed ends the session as Destroy does.
//
// The choice is saved with the session, so every later request, every
// store and every process sharing it honour it.
func (s *Session) SetDeadline(t time.Time) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if !t.IsZero() && !t.After(s.m.now()) {
		s.destroyLocked()
		return nil
	}
	if !s.noChange(s.st.Deadline.Equal(t)) {
		s.apply(op{kind: opSetDeadline, deadline: t})
	}
	return nil
}

// Touch counts this request as a use of the session even where the
// throttle would skip it: its idle expiry is moved to now plus its idle
// timeout (no later than its deadline) when the response is committed,
// and a persistent cookie is sent with it. An expiry that would not move
// (already there, or capped by the deadline) is left alone, and no cookie
// is sent but under RollingAlways. It is for routes that must keep a
// session alive without
// reading it (a keep-alive ping), and for extending a session at a chosen
// moment. Under RollingNever the expiry is fixed and Touch has no effect.
// Touching a session that is not stored does nothing. After the response
// headers went out, a Touch still moves the stored expiry when the handler
// returns (or at Save), but the cookie cannot be sent again: a persistent
// cookie keeps its earlier Max-Age, and a client-side session is not
// extended.
//
// A touch that the store refuses is logged and observed, not returned:
// the session keeps its earlier expiry and the request is answered.
func (s *Session) Touch() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	s.touchNow = true
	return nil
}
