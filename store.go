package sessionkit

import (
	"context"
	"errors"
	"iter"
	"time"
)

// Errors a Store reports. Stores must return these values (possibly wrapped,
// so that errors.Is matches) and nothing else for the conditions they name.
var (
	// ErrNotFound: no live record under the key. A record whose Expiry has
	// passed must be reported as not found even if it is still physically
	// present (not yet swept).
	ErrNotFound = errors.New("sessionkit: session not found")

	// ErrConflict: Save's compare-and-swap failed because the stored version
	// is not the one the caller read (someone else saved first, or the
	// record was created or deleted concurrently).
	ErrConflict = errors.New("sessionkit: version conflict")

	// ErrNotSupported: the store does not offer an optional capability
	// (for example the per-user index of a client-side store).
	ErrNotSupported = errors.New("sessionkit: not supported by this store")

	// ErrTooLarge: a record or cookie exceeds a hard size limit.
	ErrTooLarge = errors.New("sessionkit: session too large")
)

// Record is what a store keeps for one session. Stores treat Data as opaque
// bytes: they must return exactly the bytes they were given (binary-safe,
// including empty and very large values up to the store's documented
// limit). A caller must not change the Data that Load returns: a store
// may hand out bytes it keeps (memstore does, so that a read copies
// nothing). The Manager never changes it; a Codec's Decode only reads it.
type Record struct {
	// Data is the encoded session (see Codec).
	Data []byte
	// Version is the compare-and-swap token. Zero means "not stored yet".
	// Load returns the version currently stored; Save takes the version the
	// caller last read and returns the new one. Versions are opaque to
	// callers except that zero is never a stored version.
	Version uint64
	// Expiry is the instant after which the store must treat the record as
	// gone (Load reports ErrNotFound) and may delete it. Stores keep at
	// least millisecond precision.
	Expiry time.Time
	// UserKey is the owning user's key ("" when none) that the per-user
	// index is kept under. Set by the auth package.
	UserKey string
}

// Entry is a key with its record, as yielded by iteration and the per-user
// index.
type Entry struct {
	Key    string
	Record Record
}

// Store persists session records under opaque string keys. The Manager
// derives keys from session IDs (by default a SHA-256 hash), so a store never
// needs to parse them; keys are printable ASCII of at most 256 bytes.
//
// Implementations must be safe for concurrent use by many goroutines and
// must honour ctx: when ctx is cancelled or its deadline passes, a call
// returns promptly with an error that wraps ctx.Err() or the driver's
// timeout error. The package storetest checks all of this; every store
// should run it.
type Store interface {
	// Load returns the live record stored under key, or ErrNotFound when
	// there is none or it has expired.
	Load(ctx context.Context, key string) (Record, error)

	// Save stores rec under key if and only if the currently stored
	// version equals rec.Version, where version 0 means "no live record
	// exists" (an expired record counts as absent). It returns the new
	// version, which must differ from every version previously returned
	// for that key while the record lived. When the condition does not
	// hold it stores nothing and returns ErrConflict. The check and the
	// write are one atomic step with respect to other Save, Touch and
	// Delete calls on the same key, across all processes sharing the
	// store. Save also keeps the per-user index (if any) in step with
	// rec.UserKey, including moving the key when UserKey changes.
	Save(ctx context.Context, key string, rec Record) (version uint64, err error)

	// Touch sets the expiry of the live record under key without rewriting
	// its data or changing its version. It returns ErrNotFound when there
	// is no live record.
	Touch(ctx context.Context, key string, expiry time.Time) error

	// Delete removes the record under key and its per-user index entry. It
	// is not an error if there is no such record.
	Delete(ctx context.Context, key string) error
}

// UserIndex is implemented by stores that can list and delete the sessions
// belonging to one user (Record.UserKey). The index must never return
// expired records, and must stay consistent under concurrent Save and
// Delete calls.
type UserIndex interface {
	// UserSessions returns the live sessions whose UserKey is userKey, in
	// no particular order. An unknown user yields an empty slice.
	UserSessions(ctx context.Context, userKey string) ([]Entry, error)

	// DeleteUserSessions removes every session of userKey and returns how
	// many live sessions it removed.
	DeleteUserSessions(ctx context.Context, userKey string) (int, error)
}

// Iterator is implemented by stores that can enumerate every live record,
// as the operator CLI and migrations need. All must not block writers for
// the duration of the iteration (use cursors or pages), may or may not
// include records saved while it runs, never yields expired records, and
// stops as soon as yield returns false. An error ends the iteration: it is
// yielded once as the second value.
type Iterator interface {
	All(ctx context.Context) iter.Seq2[Entry, error]
}

// Closer is implemented by stores that hold resources (background sweepers,
// connection pools they created). Close stops background work and waits for
// it to finish; a store must not be used after Close.
type Closer interface {
	Close() error
}

// Sweeper is implemented by stores that need expired records removed
// explicitly (SQL tables, files). DeleteExpired removes records expired at
// the time of the call and returns how many it removed. Stores with native
// expiry need not implement it.
type Sweeper interface {
	DeleteExpired(ctx context.Context) (int, error)
}
