package sessionkit

import (
	"context"
	"fmt"
	"net/http"
)

// An Importer lets a Manager take over sessions that another system gave
// its clients — an express-session cookie and its store record, a
// koa-session or cookie-session cookie — so that moving to the Manager
// signs nobody out.
//
// When a request that uses its session carries no live session of the
// Manager's own (no token, or one that is unknown, expired or malformed),
// the Manager asks Manager.Import. A session it returns becomes a new
// session of the Manager's: a fresh ID and token, the imported values,
// owner and lifetime. It is saved and its cookie set before the response
// headers go out like any new session, and only then is the old one
// retired (Imported.Retire) and the client told to forget its old token
// (Imported.Forget), so a failed save loses nothing. A request that
// imports and then calls Destroy retires the old session too.
//
// Two concurrent requests carrying the same old token may both import it;
// the client keeps whichever cookie it receives last, and the other new
// session is never used again and expires.
type Importer interface {
	// Import returns the foreign session r carries, or nil when it
	// carries none. Anything that does not verify — a missing, tampered,
	// truncated or oversized token, a signature by an unknown key, a
	// record that does not decode, an expired session — is none, never
	// an error and never a panic. An error means the old store failed; it
	// fails the request as a failed Load does. ctx bounds the call
	// (Manager.OpTimeout).
	Import(ctx context.Context, r *http.Request) (*Imported, error)
}

// Imported is a session an Importer found.
type Imported struct {
	// State is the session's content for the Manager's Codec: values,
	// persistence, and the lifetime it had (IdleTimeout, Deadline,
	// Created; a zero Created means now). A session whose absolute
	// deadline (its Deadline, or Created + Manager.Lifetime) has passed
	// is not imported. Opaque is dropped.
	State State
	// UserKey is the owner's key for the per-user index ("" when none).
	UserKey string
	// Retire, if not nil, ends the old session once its replacement is
	// saved — for a session in another store, by deleting its record, so
	// that the old ID stops working. A failure is logged and observed;
	// the request goes on with its new session.
	Retire func(ctx context.Context) error
	// Forget, if not nil, writes the response headers that make the
	// client drop its old token (expired Set-Cookie lines for the old
	// cookie names). It runs before the Manager sets its own cookie, so
	// an old cookie of the same name is replaced, not cleared.
	Forget func(w http.ResponseWriter, r *http.Request)
}

// importSession asks the Importer for a foreign session and, when there
// is one, makes it this request's new, unsaved session. It reports whether
// it did; a store error is recorded in s.loadErr.
func (s *Session) importSession() bool {
	imp := s.m.Import
	if imp == nil {
		return false
	}
	var found *Imported
	err := s.m.timed(s.r.Context(), EventLoad, func(ctx context.Context) error {
		var err error
		found, err = imp.Import(ctx, s.r)
		return err
	})
	if err != nil {
		s.loadErr = fmt.Errorf("sessionkit: import session: %w", err)
		return false
	}
	if found == nil {
		return false
	}
	s.reset()
	st := found.State
	st.Opaque = nil
	if st.Created.IsZero() || st.Created.After(s.st.Created) {
		st.Created = s.st.Created
	}
	if d := s.m.deadline(st); !d.IsZero() && !s.st.Created.Before(d) {
		// Past its absolute deadline (Created + Lifetime, or its own):
		// the session is over, nothing to take over.
		return false
	}
	st.LastActive = s.st.LastActive
	s.st, s.userKey = st, found.UserKey
	s.more().imported = found
	s.m.observe(Event{Kind: EventImport, Ctx: s.r.Context()})
	return true
}

// retireImported ends the imported session's old self once this request's
// commit no longer needs it.
func (s *Session) retireImported(ctx context.Context) {
	imp := s.importedFrom()
	if imp == nil || imp.Retire == nil || s.retired {
		return
	}
	s.retired = true
	if err := s.m.timed(ctx, EventDelete, imp.Retire); err != nil {
		s.m.logger().ErrorContext(ctx, "sessionkit: imported session saved, but its old session could not be retired", "err", err)
		s.m.observe(Event{Kind: EventError, Ctx: ctx, Err: fmt.Errorf("sessionkit: retire imported session: %w", err)})
	}
}
