package koa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// ExternalStore wraps the store of a Manager that shares koa-session's
// external-store sessions (ConfigureStore), so that extending a session
// without changing it also moves the "_expire" in its JSON, as
// koa-session's own saves do:
//
//	m := sessionkit.New(koa.NewExternalStore(store))
//
// Such an extension is a touch: Options.Rolling and Options.Renew make one
// on reads, and Session.Touch asks for one. A store's own Touch moves only
// the record's expiry, not "_expire", and koa-session (like the Go side,
// which reads it as koa-session does) ends a session at its "_expire":
// without the wrapper a session that is only read ends at the "_expire"
// of its last write, on both sides, however often it is used. ConfigureStore
// refuses Rolling and Renew on a store that is not wrapped.
//
// It also reads a record's expiry as koa-session does, from "_expire":
// koa-redis keeps records ten seconds longer, which would otherwise delay
// the Go side's renewals and outlast the session in the Go side's cookies.
//
// Only Load, Save, Touch and Delete go through the wrapper: close and
// iterate the store it wraps.
type ExternalStore struct {
	sessionkit.Store
}

var _ sessionkit.Store = (*ExternalStore)(nil)

// NewExternalStore returns s wrapped as an ExternalStore.
func NewExternalStore(s sessionkit.Store) *ExternalStore {
	return &ExternalStore{Store: s}
}

// Unwrap returns the wrapped store: events and metrics name it (as
// "redisstore", say) rather than the wrapper.
func (s *ExternalStore) Unwrap() sessionkit.Store { return s.Store }

// Load implements sessionkit.Store. A record whose "_expire" comes before
// its expiry in the store (koa-redis adds ten seconds) is reported to
// expire at its "_expire".
func (s *ExternalStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	rec, err := s.Store.Load(ctx, key)
	if err != nil {
		return rec, err
	}
	if ms, err := jsjson.ParseObject(rec.Data); err == nil {
		if f := readFields(ms); f.hasExpire && f.expire.Before(rec.Expiry) {
			rec.Expiry = f.expire
		}
	}
	return rec, nil
}

// touchAttempts bounds how often Touch reloads a record that changed
// between its load and its save.
const touchAttempts = 3

// Touch implements sessionkit.Store: it rewrites the record with its
// "_expire" set to expiry (a compare-and-swap save, so that nothing a
// concurrent write stored is lost). A record without "_expire" (maxAge
// 'session') only has its expiry moved.
func (s *ExternalStore) Touch(ctx context.Context, key string, expiry time.Time) error {
	for attempt := 0; ; attempt++ {
		rec, err := s.Load(ctx, key)
		if err != nil {
			return err
		}
		data, err := setExpire(rec.Data, expiry)
		if err != nil {
			return fmt.Errorf("koa: touch session: %w", err)
		}
		if len(data) == len(rec.Data) && string(data) == string(rec.Data) {
			return s.Store.Touch(ctx, key, expiry)
		}
		rec.Data = data
		rec.Expiry = expiry
		_, err = s.Store.Save(ctx, key, rec)
		if !errors.Is(err, sessionkit.ErrConflict) || attempt+1 == touchAttempts {
			return err
		}
	}
}
