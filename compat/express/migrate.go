package express

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// A Migrator copies express-session sessions into a native store, so that
// an Importer can turn each one into a native session when its user comes
// back, even after the express store is gone. The sessionkit command's
// migrate drives one (docs/migrating-from-express.md); a program can too:
// give Copy every entry of From's iteration, then, if the iteration
// completed, delete every entry of To for which Stale reports true.
//
// Each copy is a native record under MigratedKey(id): the session's values
// with Passport's user moved to the native user field, its owner in the
// per-user index, its idle timeout and persistence, created at the time of
// its first copy (the absolute deadline, Manager.Lifetime, counts from
// there), expiring when the express session does. Copies are written only
// by a Migrator and read only by an Importer; a native Manager never loads
// one through its own cookie.
//
// A pass can be repeated, and an interrupted one simply run again: a copy
// is created where none exists, rewritten where the express session
// changed since (keeping its creation time), its expiry moved where the
// express session's moved, and left alone otherwise. A session that ends
// while it is being copied (its user signed out on Node, or an Importer
// took it over) loses its copy at once; copies of sessions that ended
// between passes are what Stale finds. So each completed pass leaves To
// with a copy of every express session as the pass found it, and of
// nothing else.
//
// A Migrator is for one pass; Copy is safe for concurrent use.
type Migrator struct {
	// From is the store in the express layout the sessions come from
	// (redisstore.LayoutConnectRedis, pgstore.LayoutConnectPgSimple or
	// mongostore.LayoutConnectMongo, with UserKeyOf set to UserKey). Copy
	// loads from it to check that a session it copied still exists.
	From sessionkit.Store
	// To is the native store the copies go to: the store of the native
	// Manager whose Importer reads them.
	To sessionkit.Store
	// TTL is how long the Node store keeps a session with a
	// browser-session cookie (its ttl option; default DefaultTTL): the
	// native idle timeout of such sessions.
	TTL time.Duration
	// UserField is the session value the native auth package reads the
	// user from (default auth.DefaultUserKeyField, "_user").
	UserField auth.ValueField
	// DryRun makes Copy and Stale report what they would do without
	// writing anything.
	DryRun bool
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

// Outcome is what Copy did with one session.
type Outcome int

const (
	// MigrateWritten: a new copy was written.
	MigrateWritten Outcome = iota
	// MigrateUpdated: the copy was brought up to date (the session
	// changed, or its expiry moved, since the last pass).
	MigrateUpdated
	// MigrateUnchanged: the copy was up to date.
	MigrateUnchanged
	// MigrateExpired: skipped, the session had expired.
	MigrateExpired
	// MigrateUnreadable: skipped, the record is not an express-session
	// session (not JSON, or no cookie object with originalMaxAge, which
	// express-session always writes: koa-generic-session's records, for
	// one, are skipped).
	MigrateUnreadable
	// MigrateEnded: skipped, the session ended while it was being copied
	// (signed out, destroyed, or taken over by an Importer); its copy was
	// removed.
	MigrateEnded
)

func (o Outcome) String() string {
	switch o {
	case MigrateWritten:
		return "written"
	case MigrateUpdated:
		return "updated"
	case MigrateUnchanged:
		return "unchanged"
	case MigrateExpired:
		return "expired"
	case MigrateUnreadable:
		return "not an express-session record"
	case MigrateEnded:
		return "ended during the copy"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// copyAttempts bounds how often Copy starts over because the copy changed
// under it (another migration, an Importer).
const copyAttempts = 8

// expirySlack is how much later than its copy's an express session's
// expiry must be for Copy to move the copy's: the Redis layout reports
// expiries from a TTL, a few milliseconds apart from one read to the next.
const expirySlack = time.Second

func (mg *Migrator) now() time.Time {
	if mg.Now != nil {
		return mg.Now()
	}
	return time.Now()
}

func (mg *Migrator) check() error {
	switch {
	case mg.From == nil || mg.To == nil:
		return errors.New("express: Migrator needs From and To")
	case mg.UserField == "passport" || mg.UserField == "cookie":
		return fmt.Errorf("express: Migrator.UserField %q is an express-session or Passport key", mg.UserField)
	}
	return nil
}

// Copy brings the copy of e, an entry of From (its key is the express
// session ID), up to date on To and reports what it did. An error means a
// store failed; the pass can be run again.
func (mg *Migrator) Copy(ctx context.Context, e sessionkit.Entry) (Outcome, error) {
	if err := mg.check(); err != nil {
		return 0, err
	}
	now := mg.now()
	if !e.Record.Expiry.After(now) {
		return MigrateExpired, nil
	}
	st, owner, err := nativeState(e.Record.Data, mg.TTL, mg.UserField, now)
	if err != nil {
		return MigrateUnreadable, nil
	}
	key := MigratedKey(e.Key)
	mg.markSeen(key)
	source := sourceVersion(e.Record.Data)

	for range copyAttempts {
		cur, err := mg.To.Load(ctx, key)
		exists := err == nil
		if err != nil && !errors.Is(err, sessionkit.ErrNotFound) {
			return 0, fmt.Errorf("express: migrate %s: load the copy: %w", key, err)
		}
		outcome := MigrateWritten
		if exists {
			outcome = MigrateUpdated
			if prev, ok := migratedSource(cur.Data); ok && prev == source {
				if !e.Record.Expiry.After(cur.Expiry.Add(expirySlack)) {
					return MigrateUnchanged, nil
				}
				if mg.DryRun {
					return MigrateUpdated, nil
				}
				err := mg.To.Touch(ctx, key, e.Record.Expiry)
				if errors.Is(err, sessionkit.ErrNotFound) {
					continue // removed meanwhile: start over
				}
				if err != nil {
					return 0, fmt.Errorf("express: migrate %s: move the copy's expiry: %w", key, err)
				}
				return mg.stillThere(ctx, e.Key, key, outcome)
			}
		}
		if mg.DryRun {
			return outcome, nil
		}
		created := now
		if exists {
			if old, err := (sessionkit.JSONCodec{}).Decode(cur.Data); err == nil && !old.Created.IsZero() && old.Created.Before(now) {
				created = old.Created // the first copy's: the deadline does not move
			}
		}
		st.Created = created
		data, err := migratedRecord(&st, source)
		if err != nil {
			return 0, fmt.Errorf("express: migrate %s: %w", key, err)
		}
		rec := sessionkit.Record{Data: data, Expiry: e.Record.Expiry, UserKey: owner}
		if exists {
			rec.Version = cur.Version
		}
		_, err = mg.To.Save(ctx, key, rec)
		if errors.Is(err, sessionkit.ErrConflict) {
			continue // changed or removed meanwhile: start over
		}
		if err != nil {
			return 0, fmt.Errorf("express: migrate %s: save the copy: %w", key, err)
		}
		return mg.stillThere(ctx, e.Key, key, outcome)
	}
	return 0, fmt.Errorf("express: migrate %s: the copy kept changing (%d attempts)", key, copyAttempts)
}

// stillThere checks, after a write to the copy, that the express session
// it was made from still exists, and removes the copy if it does not. An
// Importer retires the express session first and the copy second, so a
// copy written after the Importer's removal is caught here.
func (mg *Migrator) stillThere(ctx context.Context, id, key string, outcome Outcome) (Outcome, error) {
	_, err := mg.From.Load(ctx, id)
	switch {
	case err == nil:
		return outcome, nil
	case !errors.Is(err, sessionkit.ErrNotFound):
		return 0, fmt.Errorf("express: migrate %s: check the session still exists: %w", key, err)
	}
	if err := mg.To.Delete(ctx, key); err != nil {
		return 0, fmt.Errorf("express: migrate %s: remove the copy of an ended session: %w", key, err)
	}
	return MigrateEnded, nil
}

func (mg *Migrator) markSeen(key string) {
	sum := sha256.Sum256([]byte(key))
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if mg.seen == nil {
		mg.seen = make(map[[sha256.Size]byte]struct{})
	}
	mg.seen[sum] = struct{}{}
}

// Stale reports whether e, an entry of To, is a migrated copy of a
// session this pass did not find live in From: one that ended (or
// expired) since an earlier pass copied it. Ask only after a complete
// pass — every entry of one full iteration of From given to Copy, without
// an error — and delete the entries it reports: otherwise a copy could
// outlive a sign-out on the Node side. Native sessions are never stale.
// After a pass over an empty From every copy is stale; an empty source is
// more likely the wrong store, or one already retired, and the sessionkit
// command removes nothing then.
func (mg *Migrator) Stale(e sessionkit.Entry) bool {
	if _, ok := migratedSource(e.Record.Data); !ok {
		return false
	}
	sum := sha256.Sum256([]byte(e.Key))
	mg.mu.Lock()
	defer mg.mu.Unlock()
	_, seen := mg.seen[sum]
	return !seen
}
