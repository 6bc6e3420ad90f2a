package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// ErrNoClient is returned when a session loaded with Manager.Load or
// Manager.LoadKey is changed in a way that needs a new token (it was
// destroyed and then given values, or regenerated): there is no client to
// send the token to.
var ErrNoClient = errors.New("sessionkit: the change needs a new session token, but the session was loaded outside a request and has no client to send it to")

// Load returns the live session with the given ID for use outside a
// request that passed through m's Handler: a background job acting on a
// user's session, a message queue consumer, an admin tool. It reports an
// error wrapping ErrNotFound when there is no live session with that ID,
// and ErrNotSupported for a client-side Manager (its sessions exist only in
// the client's token).
//
// The session works as in a handler, with the same compare-and-swap,
// lifetime and size rules, except that there is no response: changes are
// saved only by Save, and a change that would need a new token fails with
// ErrNoClient. A background change is not a use by the client, so it does
// not extend the session's idle expiry (Touch does, when asked), nor
// shorten it: Save keeps the expiry of the client's last use, one made
// after Load included (a new idle timeout or deadline counts from that
// use, and ends the session if that is already past). Destroy
// and Save end the session in the store; the client finds it gone on its
// next request. ctx bounds every store call the session makes; a Session
// from Load is safe for concurrent use and valid as long as ctx is.
//
// A WebSocket or server-sent events handler does not need Load: it keeps
// using the request's session after the upgrade or the first flush, and
// calls Save to commit changes made then (no new cookie can reach the
// client at that point; see ErrHeadersSent).
func (m *Manager) Load(ctx context.Context, id string) (*Session, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if m.backend.clientSide() {
		return nil, fmt.Errorf("sessionkit: load session: client-side sessions live only in the client's token: %w", ErrNotSupported)
	}
	if !m.IDs.ValidID(id) {
		return nil, fmt.Errorf("sessionkit: load session: malformed ID: %w", ErrNotFound)
	}
	return m.loadDetached(ctx, id, m.key(id))
}

// LoadKey is Load by store key (Session.Key, Entry.Key from the per-user
// index or an Iterator), for tools that never see session IDs. The
// session's ID method then returns "".
func (m *Manager) LoadKey(ctx context.Context, key string) (*Session, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if m.backend.clientSide() {
		return nil, fmt.Errorf("sessionkit: load session: client-side sessions live only in the client's token: %w", ErrNotSupported)
	}
	if key == "" {
		return nil, fmt.Errorf("sessionkit: load session: empty key: %w", ErrNotFound)
	}
	return m.loadDetached(ctx, "", key)
}

func (m *Manager) loadDetached(ctx context.Context, id, key string) (*Session, error) {
	// A detached session's request only carries its context: it has no
	// client, no token and no response.
	s := &Session{m: m, detached: true, loaded: true}
	s.r = (&http.Request{URL: &url.URL{}, Header: http.Header{}}).WithContext(ctx)
	s.w = responseWriter{s: s, wroteHeader: true}
	now := m.now()
	rec, err := m.backend.load(ctx, m, key)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: load session: %w", err)
	}
	if !s.adopt(id, key, rec, now) {
		return nil, fmt.Errorf("sessionkit: load session: %w", ErrNotFound)
	}
	return s, nil
}

// noClientErr is the error of a change that needs a token the client can
// no longer be sent.
func (s *Session) noClientErr() error {
	if s.detached {
		return ErrNoClient
	}
	return ErrHeadersSent
}

// Status says what a request did to its session (see Session.Status).
type Status int

const (
	// Unmodified: the session was not changed in this request (or not
	// used at all).
	Unmodified Status = iota
	// Modified: values, owner, lifetime or remember-me changed, or the
	// session got a new ID (Regenerate), whether or not it has been
	// committed yet.
	Modified
	// Destroyed: the session was ended in this request (Destroy, or a
	// deadline moved into the past) and nothing was stored since.
	Destroyed
)

var statusNames = [...]string{"Unmodified", "Modified", "Destroyed"}

func (st Status) String() string {
	if st >= 0 && int(st) < len(statusNames) {
		return statusNames[st]
	}
	return fmt.Sprintf("Status(%d)", int(st))
}

// Status reports what this request has done to the session so far, as
// cookie-session's isChanged and scs's Status do. It never loads the
// session: an unused session is Unmodified. Reload forgets uncommitted
// changes.
func (s *Session) Status() Status {
	if s == nil {
		return Unmodified
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.loaded:
		return Unmodified
	case s.destroyed && len(s.ops) == 0 && !s.stored:
		return Destroyed
	case s.changed:
		return Modified
	}
	return Unmodified
}

// From returns the session that m's Handler gave the request ctx belongs
// to, or nil. Use it when several Managers wrap one handler — a long login
// session beside a short "checkout" one, or two cookie names — each with
// its own cookie; the package-level From returns the innermost Manager's.
func (m *Manager) From(ctx context.Context) *Session {
	for s := From(ctx); s != nil; s = s.parent {
		if s.m == m {
			return s
		}
	}
	return nil
}
