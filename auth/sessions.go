package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit"
)

// SessionInfo describes one of a user's sessions ("devices"), for a UI
// that lists them. It carries no ID or store key: Handle identifies the
// session to Revoke, and only among the sessions of the user it belongs
// to.
type SessionInfo struct {
	Handle     string    `json:"handle"`
	Current    bool      `json:"current"`
	Created    time.Time `json:"created"`
	LastActive time.Time `json:"lastActive"`
	Expires    time.Time `json:"expires"`
	LoginAt    time.Time `json:"loginAt,omitzero"`
	UserAgent  string    `json:"userAgent,omitempty"`
	IP         string    `json:"ip,omitempty"`
}

// Handle returns the handle of the session stored under storeKey: the
// first 22 characters of base64url(SHA-256("handle:" + storeKey)). It
// reveals nothing usable as a cookie.
func Handle(storeKey string) string {
	sum := sha256.Sum256([]byte("handle:" + storeKey))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// index returns the store and its per-user index.
func (a *Auth[U]) index() (sessionkit.Store, sessionkit.UserIndex, error) {
	st := a.Manager.Store()
	if st == nil {
		return nil, nil, fmt.Errorf("auth: client-side sessions have no per-user index: %w", ErrNotSupported)
	}
	ix, ok := st.(sessionkit.UserIndex)
	if !ok {
		return nil, nil, fmt.Errorf("auth: store %T has no per-user index: %w", st, ErrNotSupported)
	}
	return st, ix, nil
}

func (a *Auth[U]) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.Manager.OpTimeout > 0 {
		return context.WithTimeout(ctx, a.Manager.OpTimeout)
	}
	return ctx, func() {}
}

// entries returns the live sessions of userKey from the index.
func (a *Auth[U]) entries(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	_, ix, err := a.index()
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.opContext(ctx)
	defer cancel()
	es, err := ix.UserSessions(ctx, userKey)
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	// Defensive: never show a session that is not the user's.
	return slices.DeleteFunc(es, func(e sessionkit.Entry) bool { return e.Record.UserKey != userKey }), nil
}

// current returns the request's session and its user's key, or
// ErrNotAuthenticated.
func (a *Auth[U]) current(r *http.Request) (*sessionkit.Session, string, error) {
	u, err := a.User(r)
	if err != nil {
		return nil, "", err
	}
	s := a.session(r.Context())
	key, ok, err := a.field().Read(s)
	if err != nil || !ok {
		return nil, "", ErrNotAuthenticated
	}
	if a.statelessUser(r.Context()) && key != a.Serialize(u) {
		// A stateless strategy's user on a request whose session is
		// another user's login: none of this user's.
		return nil, "", ErrNotAuthenticated
	}
	return s, key, nil
}

// Sessions lists the sessions of the request's user, the current one
// first, then the most recently active. It returns ErrNotAuthenticated for
// a request without a login session of its user (anonymous, or
// authenticated by a stateless strategy such as Bearer on a request whose
// session cookie, if any, is not that user's login) and an error wrapping
// ErrNotSupported when the store has no per-user index.
func (a *Auth[U]) Sessions(r *http.Request) ([]SessionInfo, error) {
	s, userKey, err := a.current(r)
	if err != nil {
		return nil, err
	}
	list, err := a.UserSessions(r.Context(), userKey)
	if err != nil {
		return nil, err
	}
	if cur := s.Key(); cur != "" {
		h := Handle(cur)
		for i := range list {
			list[i].Current = list[i].Handle == h
		}
	}
	sortSessions(list)
	return list, nil
}

// UserSessions lists the sessions of the user with key userKey (see
// Serialize), for administrative tools. None is marked Current.
func (a *Auth[U]) UserSessions(ctx context.Context, userKey string) ([]SessionInfo, error) {
	es, err := a.entries(ctx, userKey)
	if err != nil {
		return nil, err
	}
	list := make([]SessionInfo, 0, len(es))
	for _, e := range es {
		list = append(list, a.describe(e))
	}
	sortSessions(list)
	return list, nil
}

func sortSessions(list []SessionInfo) {
	slices.SortStableFunc(list, func(x, y SessionInfo) int {
		if x.Current != y.Current {
			if x.Current {
				return -1
			}
			return 1
		}
		if c := y.LastActive.Compare(x.LastActive); c != 0 {
			return c
		}
		return cmp.Compare(x.Handle, y.Handle)
	})
}

func (a *Auth[U]) describe(e sessionkit.Entry) SessionInfo {
	si := SessionInfo{Handle: Handle(e.Key), Expires: e.Record.Expiry}
	info, err := a.Manager.Info(e.Record)
	if err != nil {
		return si // undecodable: still listed, so it can be revoked
	}
	si.Created, si.LastActive, si.Expires = info.Created, info.LastActive, info.Expires
	for _, v := range info.Values {
		if v.Key != LoginInfoKey {
			continue
		}
		var li LoginInfo
		if json.Unmarshal(v.JSON, &li) == nil && li.belongsTo(e.Record.UserKey) {
			if li.At != 0 {
				si.LoginAt = time.UnixMilli(li.At)
			}
			si.UserAgent, si.IP = li.UserAgent, li.IP
		}
	}
	return si
}

// Revoke ends one of the request's user's sessions, named by its handle
// (from Sessions). Revoking the current session is a Logout. A handle that
// is not one of the user's sessions yields ErrUnknownSession.
func (a *Auth[U]) Revoke(r *http.Request, handle string) error {
	s, userKey, err := a.current(r)
	if err != nil {
		return err
	}
	if cur := s.Key(); cur != "" && Handle(cur) == handle {
		if err := a.endLogin(r.Context(), s); err != nil {
			return fmt.Errorf("auth: revoke: %w", err)
		}
		if err := s.Save(); err != nil {
			return fmt.Errorf("auth: revoke: %w", err)
		}
		return nil
	}
	es, err := a.entries(r.Context(), userKey)
	if err != nil {
		return err
	}
	for _, e := range es {
		if Handle(e.Key) == handle {
			return a.delete(r.Context(), e.Key)
		}
	}
	return ErrUnknownSession
}

// RevokeOthers ends every session of the request's user except the
// current one ("sign out everywhere else") and returns how many it ended.
// Sessions that log in while it runs may survive.
func (a *Auth[U]) RevokeOthers(r *http.Request) (int, error) {
	s, userKey, err := a.current(r)
	if err != nil {
		return 0, err
	}
	es, err := a.entries(r.Context(), userKey)
	if err != nil {
		return 0, err
	}
	cur := s.Key()
	n := 0
	var errs []error
	for _, e := range es {
		if e.Key == cur {
			continue
		}
		if err := a.delete(r.Context(), e.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// RevokeAll ends every session of the user with key userKey (password
// change, account disabled) and returns how many it ended. When ctx is a
// request context whose session belongs to that user, that session is
// logged out too, and saved, as Logout does, before the others are
// revoked (with KeepDataOnLogout its other values move to a new ID
// first, so they survive the revocation); call Login again to continue
// in a new session. A failed save of that logout does not stop the
// revocation: the session is revoked with the others and the error is
// returned.
func (a *Auth[U]) RevokeAll(ctx context.Context, userKey string) (int, error) {
	_, ix, err := a.index()
	if err != nil {
		return 0, err
	}
	cur := 0 // the request's own session, if its logout was saved
	var saveErr error
	if s := a.session(ctx); s != nil && s.Err() == nil && userKey != "" && a.owns(s, userKey) {
		stored := !s.IsNew()
		if err := a.endLogin(ctx, s); err != nil {
			return 0, fmt.Errorf("auth: revoke all: %w", err)
		}
		// Saved before its record is revoked with the others: a
		// Regenerate whose old record was revoked meanwhile carries
		// nothing over (see sessionkit.Session.Regenerate).
		if err := s.Save(); err != nil {
			saveErr = fmt.Errorf("auth: revoke all: %w", err)
		} else if stored {
			cur = 1
		}
	}
	octx, cancel := a.opContext(ctx)
	defer cancel()
	n, err := ix.DeleteUserSessions(octx, userKey)
	if err != nil {
		return n + cur, errors.Join(saveErr, fmt.Errorf("auth: revoke all sessions of a user: %w", err))
	}
	return n + cur, saveErr
}

func (a *Auth[U]) delete(ctx context.Context, key string) error {
	st, _, err := a.index()
	if err != nil {
		return err
	}
	ctx, cancel := a.opContext(ctx)
	defer cancel()
	if err := st.Delete(ctx, key); err != nil {
		return fmt.Errorf("auth: revoke session: %w", err)
	}
	return nil
}

// owns reports whether s is logged in as userKey.
func (a *Auth[U]) owns(s *sessionkit.Session, userKey string) bool {
	if s.UserKey() == userKey {
		return true
	}
	key, ok, err := a.field().Read(s)
	return err == nil && ok && key == userKey
}
