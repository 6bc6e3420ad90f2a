package sessionkit

import (
	"context"
	"errors"
	"time"
)

// errBadToken marks a client token that is malformed or forged.
var errBadToken = errors.New("sessionkit: bad token")

// backend is where sessions live: a server-side Store addressed by keys
// derived from IDs, or the client's own sealed token. The Session's
// lifecycle logic is written once against this interface.
type backend interface {
	// open resolves a client token into the session it names.
	open(ctx context.Context, m *Manager, token string) (id, key string, rec Record, err error)
	load(ctx context.Context, m *Manager, key string) (Record, error)
	save(ctx context.Context, m *Manager, key string, rec Record) (uint64, error)
	touch(ctx context.Context, m *Manager, key string, expiry time.Time) error
	delete(ctx context.Context, m *Manager, key string) error
	// token returns what the client must hold for a saved session whose
	// ID the caller knows; client-side backends seal rec instead.
	token(rec Record) (string, error)
	// reseal reports whether an opened token must be replaced even if
	// the session does not change.
	reseal(token string) bool
	clientSide() bool
	// commitQueues returns where commits to one stored session meet
	// (nil for client-side sessions, which share nothing).
	commitQueues() *commitQueues
}

type serverBackend struct {
	store   Store
	commits *commitQueues
}

func (b *serverBackend) open(ctx context.Context, m *Manager, token string) (string, string, Record, error) {
	if !m.IDs.ValidID(token) {
		return "", "", Record{}, errBadToken
	}
	key := m.key(token)
	rec, err := b.load(ctx, m, key)
	return token, key, rec, err
}

func (b *serverBackend) load(ctx context.Context, m *Manager, key string) (Record, error) {
	var rec Record
	err := m.timed(ctx, EventLoad, func(ctx context.Context) error {
		var err error
		rec, err = b.store.Load(ctx, key)
		return err
	})
	return rec, err
}

func (b *serverBackend) save(ctx context.Context, _ *Manager, key string, rec Record) (uint64, error) {
	return b.store.Save(ctx, key, rec)
}

func (b *serverBackend) touch(ctx context.Context, _ *Manager, key string, expiry time.Time) error {
	return b.store.Touch(ctx, key, expiry)
}

func (b *serverBackend) delete(ctx context.Context, _ *Manager, key string) error {
	return b.store.Delete(ctx, key)
}

func (b *serverBackend) token(Record) (string, error) {
	return "", errors.New("sessionkit: server-side tokens are IDs")
}
func (b *serverBackend) reseal(string) bool { return false }
func (b *serverBackend) clientSide() bool   { return false }

func (b *serverBackend) commitQueues() *commitQueues { return b.commits }

// clientBackend keeps the whole record in the client's token. There is
// nothing on the server to save, touch or delete: every change is a new
// token.
type clientBackend struct {
	cs ClientStore
}

func (b *clientBackend) open(ctx context.Context, m *Manager, token string) (string, string, Record, error) {
	start := time.Now()
	rec, err := b.cs.Open(token)
	m.observe(Event{Kind: EventLoad, Ctx: ctx, Outcome: outcomeOf(err), Start: start, Duration: time.Since(start)})
	if err != nil {
		return "", "", Record{}, errBadToken
	}
	rec.Version = 1
	return "", "", rec, nil
}

func (b *clientBackend) load(context.Context, *Manager, string) (Record, error) {
	return Record{}, ErrNotFound
}

func (b *clientBackend) save(_ context.Context, _ *Manager, _ string, rec Record) (uint64, error) {
	return rec.Version + 1, nil
}

func (b *clientBackend) touch(context.Context, *Manager, string, time.Time) error { return nil }
func (b *clientBackend) delete(context.Context, *Manager, string) error           { return nil }
func (b *clientBackend) token(rec Record) (string, error)                         { return b.cs.Seal(rec) }
func (b *clientBackend) clientSide() bool                                         { return true }
func (b *clientBackend) commitQueues() *commitQueues                              { return nil }

func (b *clientBackend) reseal(token string) bool {
	r, ok := b.cs.(ClientResealer)
	return ok && r.NeedsReseal(token)
}
