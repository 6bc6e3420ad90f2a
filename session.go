package sessionkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Session is one request's view of a session. Get it with From; it is
// valid until the handler returns. Its methods are safe for concurrent use
// by goroutines of the same request.
//
// The session is loaded from the store on first use, and changes are
// committed when the handler first writes the response headers (or calls
// Flush or Save), so a redirect issued right after a change always finds
// it saved. Values are stored as JSON: use Get and Set with any type that
// encoding/json handles.
type Session struct {
	m       *Manager
	r       *http.Request
	w       responseWriter
	mu      sync.Mutex
	loadErr error // sticky: the session cannot be used this request

	id      string        // "" for a new session until it is needed
	key     string        // store key of id
	rec     Record        // version, expiry and user key as stored
	st      State         // current values and metadata
	userKey string        // current owner
	resign  string        // the client's token, if only its detached signature must be sent again
	ops     []op          // changes since the last load or commit, replayed on conflict
	oldKeys []oldRecord   // records to delete at commit (Regenerate, Destroy)
	parent  *Session      // the session of an outer Manager's Handler, if any
	extra   *sessionExtra // what few requests need (see sessionExtra)
	cookie  cookieUpdate  // what to tell the client when headers go out

	// The flags are kept together, without padding between them, so that
	// a Session with the fields below fits a 1024-byte allocation (1016
	// bytes and the runtime's header; TestSessionFitsItsAllocation).
	loaded    bool // the record was looked up (see loadLocked)
	stored    bool // a record exists under key (as of the last load or save)
	renewed   bool // Regenerate or Destroy ran: the client's token must change
	reseal    bool // the client's token is valid but must be replaced (ClientResealer)
	touchNow  bool // Touch ran: extend the idle expiry whatever the throttle
	detached  bool // loaded by Manager.Load outside a request: no client
	changed   bool // something changed in this request (see Status)
	destroyed bool // Destroy ran in this request (see Status)
	dropped   bool // Regenerate gave up the stored session the client's token names
	committed bool // a change of this request has been committed
	retired   bool // imported.Retire has run
	forget    bool // imported.Forget must run when the headers go out
	odUsed    bool // od is in use (see opContext)
	moved     bool // Regenerate gave a stored session a new ID: its next create is no new session (EventCreate), and checks the old one lives on (movedFrom)

	// pending is what the commit under way has stored or ended, reported
	// once it completes (see reportCommitted). One byte, after the flags.
	pending lifecycleEvents

	// ctx is the request's context with the session in it, what
	// context.WithValue would make, kept here to save an allocation.
	ctx sessionContext
	// od is the deadline context of the request's first store call
	// (see Manager.timed), kept here for the same reason.
	od      opDeadline
	opStart time.Time // see readClock
	// watch is the timer and request-context watch the store calls of a
	// request served by Handler share (see opWatch).
	watch opWatch
	// req is the request Handler passes on (r), kept here to save an
	// allocation.
	req http.Request
	// vary backs the Vary header field writeHeaders adds when the
	// response has none, for the same reason.
	vary [1]string
}

// sessionContext is a request's context carrying its Session (for From).
type sessionContext struct {
	context.Context
	s *Session
}

// Value implements context.Context.
func (c *sessionContext) Value(key any) any {
	if key == (contextKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// opContext returns the deadline context of a store call made for the
// session under ctx (its request's context): the one kept in the Session
// for the first call, a new one after that. The call's timeout counts from
// s.opStart when the caller has just read the clock (see readClock), so as
// not to read it again, and from now otherwise. s.mu must be held.
func (s *Session) opContext(ctx context.Context, timeout time.Duration) *opDeadline {
	start := s.opStart
	s.opStart = time.Time{}
	if start.IsZero() {
		start = time.Now()
	}
	od := &s.od
	if s.odUsed {
		od = new(opDeadline)
	}
	s.odUsed = true
	od.init(ctx, start.Add(timeout))
	if s.watch.parent != nil && ctx == s.watch.parent {
		od.watch = &s.watch
	}
	return od
}

// readClock returns the Manager's now, and keeps it as the start of the
// next store call's timeout when it is the real clock. The caller must
// make that call at once, or clear s.opStart. s.mu must be held.
func (s *Session) readClock() time.Time {
	if s.m.Now != nil {
		return s.m.Now()
	}
	now := time.Now()
	s.opStart = now
	return now
}

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opClear
	opUser
	opPersist
	opSetIdle
	opSetDeadline
)

type op struct {
	kind     opKind
	persist  bool
	key      string
	value    json.RawMessage
	idle     time.Duration
	deadline time.Time

	// update, on an opSet made by Update, computes the value again from
	// the one stored under key (nil when none) whenever the op is
	// applied to another state than the one it was made on (a merged or
	// reloaded one); when it fails, value (what the request computed)
	// is stored instead.
	update func(old json.RawMessage) (json.RawMessage, error)
}

type cookieUpdate struct {
	pending bool
	clear   bool
	sigOnly bool // only the detached signature cookie of token
	token   string
	expires time.Time
}

// --- values -----------------------------------------------------------------

// Get decodes the value stored under key into a T. A missing key yields the
// zero T and a nil error (use Has to tell the two apart); a value that does
// not decode into T, or a session that could not be loaded, yields an
// error.
func Get[T any](s *Session, key string) (T, error) {
	raw, err := s.raw(key)
	if err != nil || raw == nil {
		var v T
		return v, err
	}
	return decodeValue[T](key, raw)
}

// decodeValue decodes a stored value into a T.
func decodeValue[T any](key string, raw json.RawMessage) (T, error) {
	var v T
	if decodeBasic(raw, &v) {
		return v, nil
	}
	return unmarshalValue[T](key, raw)
}

// unmarshalValue decodes raw with encoding/json, into a T of its own so
// that Get's does not escape to the heap.
func unmarshalValue[T any](key string, raw json.RawMessage) (T, error) {
	p := new(T)
	if err := json.Unmarshal(raw, p); err != nil {
		return *p, fmt.Errorf("sessionkit: value %q does not decode into %T: %w", key, *p, err)
	}
	return *p, nil
}

// Pop is Get followed by Delete: a value read once, such as a flash
// message.
func Pop[T any](s *Session, key string) (T, error) {
	v, err := Get[T](s, key)
	if err != nil {
		return v, err
	}
	s.Delete(key)
	return v, nil
}

func (s *Session) raw(key string) (json.RawMessage, error) {
	if s == nil {
		return nil, ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return nil, err
	}
	if i := s.find(key); i >= 0 {
		return s.st.Values[i].JSON, nil
	}
	return nil, nil
}

// Set stores v under key, encoded as JSON. Setting a value equal (in its
// JSON form) to the stored one is not a change.
func (s *Session) Set(key string, v any) error {
	if s == nil {
		return ErrNoSession
	}
	raw, err := marshalValue(v)
	if err != nil {
		return fmt.Errorf("sessionkit: set %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if i := s.find(key); s.noChange(i >= 0 && bytes.Equal(s.st.Values[i].JSON, raw)) {
		return nil
	}
	s.apply(op{kind: opSet, key: key, value: raw})
	return nil
}

// Update replaces the value under key with fn's result, computed from
// the value stored there (the zero T when key holds none): a
// read-modify-write of one value, such as a counter or a list appended
// to, that concurrent requests on the session cannot lose. It returns the
// new value as computed from what this request sees.
//
// Get followed by Set records the value this request computed, so of two
// concurrent requests that both read n and set n+1, one increment is lost
// (the later commit's n+1 replaces the earlier one). Update records fn
// instead: when the change is merged with others or saved after a
// conflict, fn is called again on the value then stored, so both
// increments count, whichever process made them (see "No lost updates"
// in the package documentation). A client-side store (the session in its
// cookie) cannot merge: the client keeps the last response's cookie, and
// with it that request's value. Nor is a change merged that another
// request commits in the instant between a Regenerate's check of the old
// record and its delete: it goes with the old record (see
// Session.Regenerate, which carries over changes committed before the
// check).
//
// A failed Save leaves the change pending, to be committed again. When
// the store had saved it all the same (a timeout after the write reached
// it), the next commit finds the record holding exactly what the failed
// save sent and does not apply fn a second time; if another write came
// in between, it cannot tell, and fn is applied again.
//
// fn must be a pure function of its argument: it may be called again,
// after Update has returned, on another request's goroutine, once for
// each newer state the change is applied to before it is saved. It must
// not use a Session or anything the handler changes. If it fails when
// called again, or the value stored then does not decode into a T, the
// value computed here is stored, as Set would. An error from the first
// call is returned and nothing is changed; so is an error decoding the
// stored value into a T or encoding fn's result. A result equal (in its
// JSON form) to the value read is not a change.
func Update[T any](s *Session, key string, fn func(T) (T, error)) (T, error) {
	if s == nil {
		var zero T
		return zero, ErrNoSession
	}
	compute := func(old json.RawMessage) (T, json.RawMessage, error) {
		var v T
		if old != nil {
			var err error
			if v, err = decodeValue[T](key, old); err != nil {
				return v, nil, err
			}
		}
		v, err := fn(v)
		if err != nil {
			return v, nil, err
		}
		raw, err := marshalValue(v)
		if err != nil {
			return v, nil, fmt.Errorf("sessionkit: update %q: %w", key, err)
		}
		return v, raw, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		var zero T
		return zero, err
	}
	var old json.RawMessage
	i := s.find(key)
	if i >= 0 {
		old = s.st.Values[i].JSON
	}
	v, raw, err := compute(old)
	if err != nil {
		var zero T
		return zero, err
	}
	if !s.noChange(i >= 0 && bytes.Equal(old, raw)) {
		s.apply(op{kind: opSet, key: key, value: raw, update: func(old json.RawMessage) (json.RawMessage, error) {
			_, raw, err := compute(old)
			return raw, err
		}})
	}
	return v, nil
}

// Delete removes key. Deleting a missing key is not a change.
func (s *Session) Delete(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil || s.find(key) < 0 {
		return
	}
	s.apply(op{kind: opDelete, key: key})
}

// Has reports whether key holds a value. It is false when the session
// could not be loaded (see Err).
func (s *Session) Has(key string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked() == nil && s.find(key) >= 0
}

// Keys returns the keys holding values, in stored order.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil {
		return nil
	}
	keys := make([]string, len(s.st.Values))
	for i, v := range s.st.Values {
		keys[i] = v.Key
	}
	return keys
}

// Clear removes every value but keeps the session (its ID and owner).
func (s *Session) Clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil || len(s.st.Values) == 0 {
		return
	}
	s.apply(op{kind: opClear})
}

func (s *Session) find(key string) int {
	return findValue(s.st.Values, key)
}

func findValue(vs []Value, key string) int {
	for i, v := range vs {
		if v.Key == key {
			return i
		}
	}
	return -1
}

// noChange reports whether a write that leaves the state as it is
// (same) is no change to record. It is, except while a Regenerate's move
// is pending: the new session may then have to be made from the writes
// since Regenerate alone (see confirmMove), so each one counts.
func (s *Session) noChange(same bool) bool {
	return same && s.movedFrom() == ""
}

// apply records o and applies it to the current state, the one it was
// made on.
func (s *Session) apply(o op) {
	s.checkLive()
	s.ops = append(s.ops, o)
	now := o
	now.update = nil // its value was computed from this state
	applyOp(&s.st, &s.userKey, now)
	s.changed = true
}

// applyOp applies o to a session's state and owner.
func applyOp(st *State, userKey *string, o op) {
	switch o.kind {
	case opSet:
		i := findValue(st.Values, o.key)
		v := o.value
		if o.update != nil {
			var old json.RawMessage
			if i >= 0 {
				old = st.Values[i].JSON
			}
			if nv, err := o.update(old); err == nil {
				v = nv
			}
		}
		if i >= 0 {
			st.Values[i].JSON = v
		} else {
			st.Values = append(st.Values, Value{Key: o.key, JSON: v})
		}
	case opDelete:
		if i := findValue(st.Values, o.key); i >= 0 {
			st.Values = slices.Delete(st.Values, i, i+1)
		}
	case opClear:
		st.Values = st.Values[:0]
	case opUser:
		*userKey = o.key
	case opPersist:
		st.Persistent = o.persist
	case opSetIdle:
		st.IdleTimeout = o.idle
	case opSetDeadline:
		st.Deadline = o.deadline
	}
}

// --- metadata ---------------------------------------------------------------

// ID returns the session ID, the secret the client holds. A new session
// gets its ID on first call. It is "" for client-side sessions, for a
// session loaded with Manager.LoadKey, and when the session could not be
// loaded.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil || s.m.backend.clientSide() || (s.detached && s.stored) {
		return s.id // a session loaded by key has no known ID
	}
	s.ensureID()
	return s.id
}

func (s *Session) ensureID() {
	if s.id == "" {
		s.id = s.m.IDs.NewID()
		s.key = s.m.key(s.id)
	}
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked() != nil || !s.stored
}

// Created returns when the session was created.
func (s *Session) Created() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	return s.st.Created
}

// LastActive returns when the session was last used, to within its touch
// interval (see Manager.TouchInterval). Once its expiry is capped by its
// absolute deadline, uses no longer move the expiry, and LastActive is the
// earliest the last use can have been: the last write, or the deadline
// minus the idle timeout if that is later. In a handler it is the last use
// before this request until the request's own is committed (Save, or the
// commit when the headers go out), as stored: "last seen" for a visitor
// who has just come back. A new session's is now.
func (s *Session) LastActive() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	return s.m.notAfterNow(s.storedLastActive()) // see Manager.reportedLastActive
}

// Expires returns when the session ends if it is not used again: the
// earlier of its idle expiry and its absolute deadline. Changes the
// request has made (values, SetIdleTimeout, SetDeadline, Touch) count at
// once: before they are committed it reports the expiry their commit
// saves. A read's throttled touch is not counted until it is made.
func (s *Session) Expires() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	if !s.stored {
		return s.m.expiry(s.st, s.m.now())
	}
	// What commitLocked will save: the stored expiry unless a change or
	// a Touch moves it (a touch never moves it back).
	exp := s.m.expiry(s.st, s.useTime(s.m.now()))
	if len(s.ops) == 0 && !(s.touchNow && exp.After(s.rec.Expiry)) {
		return s.rec.Expiry
	}
	return exp
}

// useTime is the time a commit at clock reading now records as the
// session's use: now, except for a change to a session loaded outside a
// request (Manager.Load), which is not a use by the client, so the
// session keeps the expiry of its last use.
func (s *Session) useTime(now time.Time) time.Time {
	if s.detached && !s.touchNow {
		return s.storedLastActive()
	}
	return now
}

// UserKey returns the key of the user owning the session ("" when none).
// The auth package maintains it.
func (s *Session) UserKey() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.loadLocked()
	return s.userKey
}

// SetUserKey sets the owning user's key, which stores index sessions by.
// Applications normally leave this to the auth package.
func (s *Session) SetUserKey(userKey string) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if !s.noChange(s.userKey == userKey) {
		s.apply(op{kind: opUser, key: userKey})
	}
	return nil
}

// RememberMe makes the session's cookie persistent (true: it outlives the
// browser, until the session expires) or a browser-session cookie (false).
func (s *Session) RememberMe(remember bool) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if !s.noChange(s.st.Persistent == remember) {
		s.apply(op{kind: opPersist, persist: remember})
	}
	return nil
}

// Err returns the error that kept the session from loading, if any. Such a
// request ends with the Manager's ErrorHandler answer once it writes its
// response.
func (s *Session) Err() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked()
}

// --- lifecycle --------------------------------------------------------------

// Regenerate gives the session a new ID, keeping its values and owner; the
// record under the old ID is deleted at commit. Call it whenever privilege
// changes (login) to defeat session fixation.
//
// A session that ended while the request used it (destroyed, or revoked
// by another request or process: its record deleted, or its user's
// sessions revoked) is not brought back by Regenerate. Once the session
// is stored under its new ID, the commit loads the old record (one store
// call) to check that it is still there. If it is gone, the new record is
// deleted and the values carried over are dropped: the session is the
// new, empty one Destroy would have left, holding only what the request
// wrote since Regenerate (every write counts, even of a value the session
// already held), stored under another new ID if that is anything. So a
// login that races a revocation still logs in, in a session without the
// revoked one's values, while a Regenerate with nothing written after it
// leaves no session; the client's cookie is then left alone, as for any
// session found ended. Another request of the same client that
// regenerated the same session and committed first (a double-submitted
// login form) has deleted the old record too: the later one likewise
// keeps only its own writes. A request that deletes its own record
// through the Store (Delete, UserIndex.DeleteUserSessions) and means to
// keep its values must call Regenerate and Save first, as auth's
// RevokeAll does. When the check finds that another request changed the
// old record after this one loaded it (a request of the same client
// committed while a login checked a password), that change is carried
// over: this request's own changes, from before and after Regenerate, are
// applied again to the old record as it is now, and the result replaces
// the new record (one more Save). Only a change committed in the moment
// between the check and the old record's delete goes with the old record.
// If the check fails, the commit fails and the session stays under its
// old ID. Client-side sessions have no record to check.
func (s *Session) Regenerate() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	if s.stored {
		if !s.m.backend.clientSide() {
			// See movedFrom and confirmMove.
			s.oldKeys = append(s.oldKeys, oldRecord{key: s.key, version: s.rec.Version, ops: s.ops})
		}
		// The state is saved whole under the new ID: the changes
		// recorded from here on are what the new session keeps if the
		// old one ends meanwhile (see confirmMove).
		s.ops = nil
		s.setUnsure(nil)
	}
	s.dropped = s.dropped || s.stored
	s.moved = s.moved || s.stored
	s.id, s.key = "", ""
	if !s.m.backend.clientSide() {
		s.ensureID()
	}
	s.stored = false
	s.rec.Version = 0
	s.renewed = true
	s.changed = true
	return nil
}

// movedFrom returns the store key of the stored session Regenerate moved
// this one from, while that move is not committed: the last of oldKeys,
// as nothing is appended to them after Regenerate's while moved holds
// (Destroy clears moved). It is "" when there is none, and for
// client-side sessions.
func (s *Session) movedFrom() string {
	if !s.moved || s.m.backend.clientSide() || len(s.oldKeys) == 0 {
		return ""
	}
	return s.oldKeys[len(s.oldKeys)-1].key
}

// oldRecord is a record to delete at commit: one Destroy ended, or the
// one Regenerate moved the session from, with the version this request
// knew it at and the changes it made before Regenerate, which confirmMove
// applies again if another request changed the record meanwhile.
type oldRecord struct {
	key     string
	version uint64
	ops     []op
}

// Destroy ends the session: its record is deleted and the client's token
// cleared at commit (a request that came without a token gets no
// clearing cookie or header). The Session is then a new, empty one;
// values set after Destroy start a new session with a new ID, whose
// token the response carries instead.
func (s *Session) Destroy() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLocked(); err != nil {
		return err
	}
	s.destroyLocked()
	return nil
}

func (s *Session) destroyLocked() {
	if s.stored && !s.m.backend.clientSide() {
		s.oldKeys = append(s.oldKeys, oldRecord{key: s.key})
	}
	if s.stored || s.moved {
		// A stored session ends (one Regenerate moved is still stored
		// under its old key): reported once the commit deletes it.
		s.pending |= pendingDestroy
	}
	s.reset()
	s.moved = false // what is set after Destroy is a new session
	s.renewed = true
	s.destroyed = true
}

// Save commits the session now instead of when the response headers are
// written. It is useful before long-running work, or to learn of a failed
// save in the handler.
//
// When Save fails, the changes stay pending: they are committed again when
// the response headers are written, and if that fails too the
// ErrorHandler answers instead of the handler. Call Reload first to drop
// them instead.
func (s *Session) Save() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked()
}

// Reload discards uncommitted changes and reads the session from the store
// again.
func (s *Session) Reload() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return s.loadLocked()
	}
	s.changed = s.committed
	if s.loadErr != nil || !s.stored || s.m.backend.clientSide() {
		if s.m.backend.clientSide() && s.stored {
			// The last sealed record (from the request's token, or
			// committed since) is what is stored.
			st, err := s.m.Codec.Decode(s.rec.Data)
			if err != nil {
				return fmt.Errorf("sessionkit: reload session: %w", err)
			}
			s.st, s.userKey, s.ops = st, s.rec.UserKey, nil
			return nil
		}
		if s.loadErr == nil {
			// Nothing stored yet: the stored state is an empty session.
			id, key := s.id, s.key
			s.reset()
			s.id, s.key = id, key
		}
		return s.loadErr
	}
	return s.reloadLocked()
}

// reset makes the session a new, empty one that has not been stored.
func (s *Session) reset() {
	now := s.m.now()
	s.id, s.key = "", ""
	s.stored = false
	s.rec = Record{}
	s.userKey = ""
	s.ops = nil
	s.setUnsure(nil)
	s.reseal = false
	s.resign = ""
	s.touchNow = false
	s.st = State{Created: now, LastActive: now, Persistent: s.m.Persistent}
	// A session stored by a commit that has not completed is not
	// reported once it is given up (see reportCommitted); the end of
	// one stored before is.
	s.pending &^= pendingCreate | pendingRegenerate
}

// changeLocked loads the session for a change, which is refused with
// ErrSessionAfterHandler once the request's Handler has returned (its
// commit has run: nothing would save or send the change). s.mu must be
// held.
func (s *Session) changeLocked() error {
	if s.w.ended {
		// Checked before loading: a session first touched after its
		// request would otherwise be loaded on a context that may be
		// cancelled, and the change refused with that error instead.
		s.checkLive()
		return ErrSessionAfterHandler
	}
	return s.loadLocked()
}

// loadLocked loads the session on first use. s.mu must be held.
func (s *Session) loadLocked() error {
	if s.loaded {
		return s.loadErr
	}
	s.checkLive()
	if s.w.ended {
		// First used after its request: not loaded at all (no store call
		// on a request that is over, whose context may be cancelled).
		return ErrSessionAfterHandler
	}
	s.loaded = true
	if !s.loadStored() && (s.loadErr != nil || !s.importSession()) {
		s.reset()
	}
	return s.loadErr
}

// loadStored loads the session the client's token names. It reports false
// when there is none to use (no token, a bad one, an unknown, undecodable
// or expired session, or a store error recorded in s.loadErr).
func (s *Session) loadStored() bool {
	token, stale, staleSig := requestToken(s.m.transport(), s.r)
	if token == "" {
		if presentsToken(s.m.transport(), s.r) {
			// Sent but refused by the transport: badly signed, oversized
			// or not a cookie value.
			s.m.observe(Event{Kind: EventBadToken, Ctx: s.r.Context()})
		}
		return false
	}
	now := s.readClock()
	id, key, rec, err := s.m.backend.open(s.r.Context(), s.m, token)
	s.opStart = time.Time{}
	switch {
	case errors.Is(err, errBadToken):
		s.m.observe(Event{Kind: EventBadToken, Ctx: s.r.Context()})
		return false
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		s.loadErr = fmt.Errorf("sessionkit: load session: %w", err)
		return false
	}
	if !s.adopt(id, key, rec, now) {
		return false
	}
	s.reseal = stale || s.m.backend.reseal(token)
	if staleSig && !s.reseal {
		s.resign = token
	}
	return true
}

// adopt makes the loaded record rec under key this request's session, as
// of now (read just before the load). It reports false, adopting nothing,
// when the record does not decode or the session is over (an expired
// record is deleted at commit).
func (s *Session) adopt(id, key string, rec Record, now time.Time) bool {
	st, err := s.m.Codec.Decode(rec.Data)
	if errors.Is(err, ErrNotFound) {
		return false // expired by the format's own clock (see Codec)
	}
	if err != nil {
		// A record we cannot read is no session; it will expire.
		s.m.logger().WarnContext(s.r.Context(), "sessionkit: undecodable session record ignored", "err", err)
		s.m.observe(Event{Kind: EventError, Ctx: s.r.Context(), Err: err})
		return false
	}
	if st.Created.IsZero() {
		// The format keeps no creation time (express-session's does not):
		// only the idle expiry applies.
		st.Created = now
	}
	if d := s.m.deadline(st); !now.Before(rec.Expiry) || (!d.IsZero() && !now.Before(d)) {
		if !s.m.backend.clientSide() {
			s.oldKeys = append(s.oldKeys, oldRecord{key: key})
		}
		return false
	}
	s.id, s.key, s.rec, s.st, s.userKey, s.stored = id, key, rec, st, rec.UserKey, true
	return true
}

// reloadLocked reads the current record for s.key, dropping local changes.
func (s *Session) reloadLocked() error {
	sn, err := s.m.loadSnapshot(s.r.Context(), s.key)
	if err != nil {
		return err
	}
	if sn == nil {
		s.reset()
		s.renewed = true
		return nil
	}
	s.rec, s.st, s.userKey, s.ops = sn.rec, sn.st, sn.userKey, nil
	s.setUnsure(nil)
	return nil
}

// hasContent reports whether a new session is worth storing.
func (s *Session) hasContent() bool {
	return len(s.st.Values) > 0 || s.userKey != "" || s.m.SaveUninitialized
}

// commitLocked writes what changed to the store and records what the
// client must be told. Once the headers are out, only changes that need no
// new token can still be saved; others fail with ErrHeadersSent. s.mu must
// be held.
func (s *Session) commitLocked() error {
	if s.w.ended {
		// Save from a goroutine that outlived its request: the Handler's
		// commit has run, and its context may still be open (Fiber's).
		s.checkLive()
		return ErrSessionAfterHandler
	}
	if !s.loaded {
		return nil // never touched: no store call at all
	}
	if s.loadErr != nil {
		return s.loadErr
	}
	m, b := s.m, s.m.backend
	ctx := s.r.Context()
	late := s.w.wroteHeader
	now := s.useTime(s.readClock())
	defer func() { s.opStart = time.Time{} }()
	exp := m.expiry(s.st, now)

	switch {
	case !s.stored && s.hasContent():
		if late {
			return s.noClientErr()
		}
		from, ops := s.movedFrom(), s.ops
		if err := s.create(now, exp); err != nil {
			return err
		}
		if from != "" {
			kept, err := s.confirmMove(ctx, from, ops, now)
			if err != nil {
				return err
			}
			exp = s.rec.Expiry // moved if another request's change was carried over
			if !kept {
				// What is left is a new session (see confirmMove).
				exp = m.expiry(s.st, now)
				if !s.hasContent() {
					break
				}
				if err := s.create(now, exp); err != nil {
					return err
				}
			}
		}
		if err := s.setCookie(exp); err != nil {
			return err
		}
		s.supersedeImported(ctx)
	case !s.stored:
		// Nothing to keep. The client is told to drop its token only if
		// this request ended the session it names (Destroy, or
		// Regenerate with nothing left to store). A token that was
		// already dead is left alone: a request sent with it before a
		// login and answered after the login's response would otherwise
		// clear the cookie the login just set (the same cookie name),
		// signing the user out. express-session does not clear it either.
		// Nor is a client that sent no token told to drop one.
		if (s.destroyed || s.dropped) && !late && sentToken(s.m.transport(), s.r) {
			s.cookie = cookieUpdate{pending: true, clear: true}
		}
		if !late {
			s.supersedeImported(ctx) // imported, then destroyed or emptied
		}
	case !exp.After(now):
		// Its deadline has passed during the request (or a change moved
		// it into the past): the session is over.
		if late && b.clientSide() {
			return ErrHeadersSent
		}
		s.destroyLocked()
		if !late {
			s.cookie = cookieUpdate{pending: true, clear: true}
		}
	case len(s.ops) > 0:
		persistChanged := s.persistChanged()
		if late && b.clientSide() {
			return ErrHeadersSent
		}
		prev := s.rec.Expiry
		if err := s.update(now, exp); err != nil {
			return err
		}
		if !s.stored {
			break // ended concurrently
		}
		// The write moved the store's expiry (unless it is fixed): the
		// cookie must move with it, or the browser drops it first.
		moved := s.st.Persistent && s.expiryTravels() && !s.rec.Expiry.Equal(prev)
		if b.clientSide() || (!late && (persistChanged || moved || s.reseal || m.Rolling == RollingAlways)) {
			if err := s.setCookie(s.rec.Expiry); err != nil {
				return err
			}
		}
	case s.touchDue(exp):
		if late && b.clientSide() {
			return nil // a refresh, not a change: nothing is lost
		}
		err := m.timed(ctx, EventTouch, func(ctx context.Context) error { return b.touch(ctx, m, s.key, exp) })
		if errors.Is(err, ErrNotFound) {
			s.ended()
			break
		}
		if err != nil {
			// A touch only extends the idle lifetime: the session is
			// still valid until its stored expiry, so the request goes
			// on with it. Nothing is sent; the next use tries again.
			m.logger().WarnContext(ctx, "sessionkit: touch refused; the session keeps its earlier expiry", "err", err)
			m.observe(Event{Kind: EventError, Ctx: ctx, Err: fmt.Errorf("sessionkit: touch session: %w", err)})
			break
		}
		s.rec.Expiry = exp
		s.touchNow = false
		if !late && (b.clientSide() || (s.st.Persistent && s.expiryTravels()) || s.reseal || m.Rolling == RollingAlways) {
			if err := s.setCookie(exp); err != nil {
				return err
			}
		}
	case !late && (s.reseal || m.Rolling == RollingAlways):
		// Unchanged, but the token must be sent again: it was sealed
		// with a retired key, or every response refreshes the cookie.
		if err := s.setCookie(s.rec.Expiry); err != nil {
			return err
		}
	case !late && s.resign != "":
		// Unchanged, and its signature cookie is by a retired key: that
		// cookie alone is signed again, as Node's cookies package does.
		// Sending the token's cookie too would give it a new expiry,
		// which a read must not (RollingOnWrite).
		c := cookieUpdate{pending: true, sigOnly: true, token: s.resign}
		if s.st.Persistent {
			c.expires = s.rec.Expiry
		}
		s.cookie = c
		s.resign = ""
	}

	for len(s.oldKeys) > 0 {
		key := s.oldKeys[0].key
		err := m.timed(ctx, EventDelete, func(ctx context.Context) error { return b.delete(ctx, m, key) })
		if err != nil {
			return fmt.Errorf("sessionkit: delete old session: %w", err)
		}
		s.oldKeys = s.oldKeys[1:]
	}
	s.renewed = false
	s.committed = s.committed || s.changed
	s.reportCommitted()
	return nil
}

// supersedeImported retires the session this one was imported from and
// has the client forget its old token.
func (s *Session) supersedeImported(ctx context.Context) {
	if s.importedFrom() == nil {
		return
	}
	s.retireImported(ctx)
	s.forget = s.importedFrom().Forget != nil
}

// expiryTravels reports whether the transport tells the client when its
// token expires (a cookie's Max-Age; a header token has no expiry), so a
// moved expiry must be sent again.
func (s *Session) expiryTravels() bool {
	_, ok := s.m.transport().(*HeaderTransport)
	return !ok
}

func (s *Session) persistChanged() bool {
	for _, o := range s.ops {
		if o.kind == opPersist {
			return true
		}
	}
	return false
}

// touchDue reports whether a use at the expiry exp should extend the
// stored expiry: it must move it forward, by at least the touch interval
// unless Touch asked for it.
func (s *Session) touchDue(exp time.Time) bool {
	if !exp.After(s.rec.Expiry) {
		return false
	}
	return s.touchNow || exp.Sub(s.rec.Expiry) >= s.m.touchInterval(s.m.idleTimeout(s.st))
}

func (s *Session) record(now, exp time.Time) (Record, error) {
	return s.m.record(&s.st, s.userKey, s.rec.Version, now, exp)
}

// record encodes st as the record to save under version, used at now and
// expiring at exp.
func (m *Manager) record(st *State, userKey string, version uint64, now, exp time.Time) (Record, error) {
	st.LastActive = now
	st.Expires = exp
	data, err := m.Codec.Encode(st)
	if err != nil {
		return Record{}, encodeError{fmt.Errorf("sessionkit: encode session: %w", err)}
	}
	if m.MaxDataSize > 0 && len(data) > m.MaxDataSize {
		return Record{}, fmt.Errorf("sessionkit: session of %d bytes exceeds MaxDataSize %d: %w", len(data), m.MaxDataSize, ErrTooLarge)
	}
	return Record{Data: data, Version: version, Expiry: exp, UserKey: userKey}, nil
}

// encodeError is a session the Codec refused to encode (a value under a
// key the format reserves, say): a fault of the application, not of the
// store, answered with 500 by default.
type encodeError struct{ err error }

func (e encodeError) Error() string { return e.err.Error() }
func (e encodeError) Unwrap() error { return e.err }

// saveRecord is one store Save, timed and bounded by OpTimeout.
func (m *Manager) saveRecord(ctx context.Context, key string, rec Record) (uint64, error) {
	var v uint64
	err := m.timed(ctx, EventSave, func(ctx context.Context) error {
		var err error
		v, err = m.backend.save(ctx, m, key, rec)
		return err
	})
	return v, err
}

// create stores a new session under a fresh ID.
func (s *Session) create(now, exp time.Time) error {
	b := s.m.backend
	rec, err := s.record(now, exp)
	if err != nil {
		return err
	}
	rec.Version = 0
	for attempt := 0; ; attempt++ {
		if !b.clientSide() {
			s.ensureID()
			// A client that cannot be sent the ID could never reach the
			// record: refuse before storing it, not after.
			if err := s.checkTokenSize(s.id); err != nil {
				return err
			}
		}
		v, err := s.m.saveRecord(s.r.Context(), s.key, rec)
		if err == nil {
			rec.Version = v
			s.rec, s.stored, s.ops = rec, true, nil
			if s.moved {
				s.pending |= pendingRegenerate
			} else {
				s.pending |= pendingCreate
			}
			s.moved = false
			return nil
		}
		// A conflict on a fresh 256-bit ID means someone else holds it:
		// never share it, take another.
		if !errors.Is(err, ErrConflict) || attempt >= 2 {
			return fmt.Errorf("sessionkit: save new session: %w", err)
		}
		s.id = ""
	}
}

// confirmMove is called once a session Regenerate moved is stored under
// its new ID: it checks that the stored session it was moved from (under
// from) has not ended meanwhile. Checking after the new record exists
// leaves no gap: a revocation made before the check is seen here, and
// one made after it finds the new record (a user's revocation) or names
// only the old ID, which the session has left. When the old session has
// ended, the new record is deleted and the values carried over are
// dropped: the session becomes the new, empty one Destroy would have
// left, with ops (the changes made since Regenerate) applied, for the
// caller to store if they hold anything. When the old session lives on
// but another request changed it after this one loaded it, its changes
// are carried over: this request's changes (those before Regenerate, then
// ops) are applied again to the old record as it is now, and the result
// replaces the new record (see carryOver). It reports whether the move
// stands. On an error (the check, the carry-over or the delete failed)
// the move is pending again, to be retried under another new ID; the old
// session is untouched.
func (s *Session) confirmMove(ctx context.Context, from string, ops []op, now time.Time) (bool, error) {
	m, b := s.m, s.m.backend
	old := &s.oldKeys[len(s.oldKeys)-1] // from's (see movedFrom)
	rec, err := b.load(ctx, m, from)
	if err == nil && rec.Version != old.version {
		err = s.carryOver(ctx, rec, old.ops, ops, now)
	}
	if err == nil {
		old.ops = nil
		return true, nil
	}
	ended := errors.Is(err, ErrNotFound)
	key := s.key
	derr := m.timed(ctx, EventDelete, func(ctx context.Context) error { return b.delete(ctx, m, key) })
	switch {
	case ended && derr == nil:
		m.logger().InfoContext(ctx, "sessionkit: session ended by another request before its Regenerate was committed; its values were not carried over")
		s.reset()
		s.moved, s.dropped = false, false
		for _, o := range ops {
			applyOp(&s.st, &s.userKey, o)
		}
		s.ops = ops
		return false, nil
	case ended:
		err = fmt.Errorf("sessionkit: delete regenerated session: %w", derr)
	default:
		// The delete was best effort: a record it failed to delete
		// expires, and its ID was never sent.
		err = fmt.Errorf("sessionkit: check regenerated session: %w", err)
	}
	s.id, s.key = "", ""
	s.stored, s.rec.Version, s.ops, s.moved = false, 0, ops, true
	return false, err
}

// carryOver replaces the record create just stored under the new ID with
// rec, the record the session was moved from as another request left it,
// changed by this request's changes again: those made before Regenerate
// (before), then ops.
func (s *Session) carryOver(ctx context.Context, rec Record, before, ops []op, now time.Time) error {
	sn, err := s.m.snapshotOf(rec)
	if err != nil {
		// ErrNotFound (expired by the format's clock): the old session
		// has ended, as confirmMove handles it.
		return fmt.Errorf("sessionkit: carry over a change made during Regenerate: %w", err)
	}
	sn.apply(before)
	sn.apply(ops)
	s.st, s.userKey = sn.st, sn.userKey
	r, err := s.record(now, s.m.expiry(s.st, now))
	if err != nil {
		return err
	}
	v, err := s.m.saveRecord(ctx, s.key, r)
	if err != nil {
		return fmt.Errorf("sessionkit: carry over a change made during Regenerate: %w", err)
	}
	r.Version = v
	s.rec = r
	return nil
}

// update saves changes to a stored session. Commits to the same session
// from this Manager go through its queue (see commitqueue.go): the first
// saves on what it loaded, and those arriving meanwhile are merged into
// one compare-and-swap after it. A conflict (a writer elsewhere saved
// first) reloads, replays the changes and retries.
func (s *Session) update(now, exp time.Time) error {
	m := s.m
	ctx := s.r.Context()
	qs := m.backend.commitQueues()
	if qs == nil {
		// Client-side: nothing is shared, so nothing can conflict.
		return s.saveOwn(ctx, now, exp)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: save session: %w", err)
	}
	if s.pendingUnsure() != nil {
		if err := s.settleUnsure(ctx); err != nil {
			return err
		}
		if len(s.ops) == 0 {
			return nil // the earlier save was stored, and nothing changed since
		}
		exp = m.expiry(s.st, now)
	}
	key := s.key // s.key is cleared if the session ends meanwhile
	own := change{now: now, ops: s.ops, lastUse: s.detached && !s.touchNow}
	q := qs.shard(key)
	w := q.join(ctx, key, own)
	var (
		batch []*queuedCommit
		base  *snapshot
	)
	if w != nil {
		s.opStart = time.Time{} // stale once it has waited
		lead, err := q.wait(key, w)
		if err != nil {
			return fmt.Errorf("sessionkit: save session: %w", err)
		}
		if !lead {
			return s.takeResult(w.saved, w.ended, w.err)
		}
		batch, base = q.take(key)
	}
	for _, w := range batch {
		w.err = errCommitAbandoned // until saveBatch sets its result
	}
	ok := false // the batch saved (the session may have ended)
	defer func() {
		q.finish(key, batch, func() *snapshot {
			if !ok || !s.stored {
				return nil
			}
			return (&snapshot{rec: s.rec, st: s.st, userKey: s.userKey}).clone()
		})
	}()

	attempt := 0
	if base == nil && len(batch) == 0 && !own.lastUse {
		// Alone, on what this request loaded: one save, as if there
		// were no queue.
		err := s.saveOwn(ctx, now, exp)
		if err != ErrConflict {
			ok = err == nil
			return err
		}
		m.observe(Event{Kind: EventConflict, Ctx: ctx})
		if m.MaxRetries < 1 {
			m.observe(Event{Kind: EventTooManyConflicts, Ctx: ctx})
			return fmt.Errorf("sessionkit: save session after 1 attempt: %w", ErrTooManyConflicts)
		}
		attempt = 1
	}
	// A background change (own.lastUse) saves on the record as stored
	// now, not as it was loaded: a request's touch since then moved the
	// expiry without changing the version, and the change must keep it.
	if len(batch) > 0 {
		var stop func()
		ctx, stop = batchContext(ctx, batch)
		defer stop()
	}
	saved, err := m.saveBatch(ctx, key, own, batch, base, attempt)
	ok = err == nil
	return s.takeResult(saved, ok && saved == nil, err)
}

// saveOwn saves the session's own state on the version it loaded, once.
// A lost compare-and-swap is returned as ErrConflict itself.
func (s *Session) saveOwn(ctx context.Context, now, exp time.Time) error {
	rec, err := s.record(now, exp)
	if err != nil {
		return err
	}
	v, err := s.m.saveRecord(ctx, s.key, rec)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return ErrConflict
		}
		err = fmt.Errorf("sessionkit: save session: %w", err)
		if !s.m.backend.clientSide() {
			s.setUnsure(&unsureSave{err: err, data: rec.Data, ops: len(s.ops)})
		}
		return err
	}
	rec.Version = v
	s.rec, s.ops, s.touchNow = rec, nil, false
	s.setUnsure(nil)
	return nil
}

// sessionExtra holds what few requests need, allocated on first use so
// that a Session fits a 1024-byte allocation (with the runtime's 8-byte
// header for objects over 512 bytes, 1016 bytes of fields).
type sessionExtra struct {
	imported *Imported   // the foreign session this one replaces (Importer)
	unsure   *unsureSave // the last save failed but may have been stored (see settleUnsure)
}

func (s *Session) more() *sessionExtra {
	if s.extra == nil {
		s.extra = new(sessionExtra)
	}
	return s.extra
}

func (s *Session) importedFrom() *Imported {
	if s.extra == nil {
		return nil
	}
	return s.extra.imported
}

func (s *Session) pendingUnsure() *unsureSave {
	if s.extra == nil {
		return nil
	}
	return s.extra.unsure
}

func (s *Session) setUnsure(u *unsureSave) {
	if u != nil || s.extra != nil {
		s.more().unsure = u
	}
}

// unsureSave is a save whose store call failed other than by a conflict:
// the store may have stored data all the same (a timeout after the write
// reached it). ops is how many of the session's changes it held.
type unsureSave struct {
	err  error
	data []byte
	ops  int
}

func (e *unsureSave) Error() string { return e.err.Error() }
func (e *unsureSave) Unwrap() error { return e.err }

// settleUnsure is called before the changes of a session whose last save
// failed (pendingUnsure) are saved again. Replaying them on what is stored is
// right for a Set, whose value is the same whether or not it was stored,
// but an Update stored by the failed save would be applied twice. So the
// record is loaded (one store call): if it holds exactly what the failed
// save sent, that save was stored, and only the changes made since are
// left to save, on the stored state. Otherwise nothing can be told, and
// the changes are replayed as for any conflict. s.mu must be held.
func (s *Session) settleUnsure(ctx context.Context) error {
	u := s.pendingUnsure()
	if u.ops > len(s.ops) {
		s.setUnsure(nil) // cannot happen: the log is only cut with unsure cleared
		return nil
	}
	sn, err := s.m.loadSnapshot(ctx, s.key)
	if err != nil {
		return err // still unsure; the changes stay pending
	}
	s.setUnsure(nil)
	if sn == nil || !bytes.Equal(sn.rec.Data, u.data) {
		return nil
	}
	later := slices.Clone(s.ops[u.ops:])
	sn.apply(later)
	s.rec, s.st, s.userKey, s.ops = sn.rec, sn.st, sn.userKey, later
	return nil
}

// takeResult takes the result of a commit: the state saved (which
// becomes the session's, with every change merged into it), or the end of
// the session, or an error that leaves the changes pending.
func (s *Session) takeResult(saved *snapshot, ended bool, err error) error {
	switch {
	case err != nil:
		var u *unsureSave
		if errors.As(err, &u) {
			s.setUnsure(&unsureSave{err: u.err, data: u.data, ops: len(s.ops)})
		}
		return err
	case ended:
		// Destroyed or revoked meanwhile: the changes must not bring it
		// back.
		s.ended()
	case saved != nil:
		s.rec, s.st, s.userKey = saved.rec, saved.st, saved.userKey
		s.ops, s.touchNow = nil, false
		s.setUnsure(nil)
	}
	return nil
}

// Conflict retries wait a random time up to a cap that doubles with each
// attempt, so that writers contending for one session spread out instead
// of reloading in lockstep.
const (
	backoffBase = 250 * time.Microsecond
	backoffCap  = 25 * time.Millisecond
)

// backoff waits before retry attempt+1, or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	limit := backoffCap
	if attempt < 10 {
		limit = min(backoffCap, backoffBase<<attempt)
	}
	t := time.NewTimer(rand.N(limit) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ended handles a session that disappeared from the store while this
// request used it (another request destroyed or revoked it).
func (s *Session) ended() {
	s.m.logger().InfoContext(s.r.Context(), "sessionkit: session ended by another request; its changes were dropped")
	s.reset()
	// The token is left alone, as for any token found dead (see
	// commitLocked): the request that ended the session told the client,
	// and a login since may have given it a new one.
}

// setCookie prepares the token the client gets when the headers go out.
// For client-side sessions the token is the sealed record, so it is made
// (and its size checked) here, while an error can still reach the caller.
func (s *Session) setCookie(exp time.Time) error {
	token := s.id
	var err error
	if s.m.backend.clientSide() {
		if token, err = s.m.backend.token(s.rec); err != nil {
			err = fmt.Errorf("sessionkit: seal session: %w", err)
		}
	}
	if err == nil {
		err = s.checkTokenSize(token)
	}
	if err != nil {
		if s.m.backend.clientSide() {
			// Only a token holds a client-side session: until one is
			// sent, nothing is stored, and a later commit (say, after
			// the handler ignored Save's error) must fail again rather
			// than skip the unsaved state. Its events wait for that
			// commit too (see reportCommitted).
			s.stored = false
			if s.pending&pendingRegenerate != 0 {
				s.moved = true
			}
			s.pending &^= pendingCreate | pendingRegenerate
		}
		return err
	}
	s.reseal = false
	s.resign = ""
	c := cookieUpdate{pending: true, token: token}
	if s.st.Persistent {
		c.expires = exp
	}
	s.cookie = c
	return nil
}

// checkTokenSize returns ErrTooLarge, wrapped, when the transport would
// refuse to send token (CookieTransport.MaxSize, HeaderTransport.MaxSize).
func (s *Session) checkTokenSize(token string) error {
	switch t := s.m.transport().(type) {
	case *CookieTransport:
		if !t.fits(token) {
			return fmt.Errorf("sessionkit: session cookie would exceed %d bytes: %w", t.maxSize(), ErrTooLarge)
		}
	case *HeaderTransport:
		if len(token) > t.maxSize() {
			return fmt.Errorf("sessionkit: session token of %d bytes exceeds HeaderTransport.MaxSize %d: %w", len(token), t.maxSize(), ErrTooLarge)
		}
	}
	return nil
}

// writeHeaders adds the session's part to the response headers just
// before they go out: the pending token update, and what keeps shared
// caches from serving this response to another session (see cache.go).
func (s *Session) writeHeaders(w http.ResponseWriter) {
	t := s.m.transport()
	reqHeader, respHeader := tokenHeaders(t)
	if s.loaded {
		addVary(w.Header(), reqHeader, &s.vary)
	}
	if s.forget {
		s.forget = false
		s.importedFrom().Forget(w, s.r)
		keepTokenPrivate(w.Header(), "Set-Cookie")
	}
	c := s.cookie
	if !c.pending {
		return
	}
	s.cookie = cookieUpdate{}
	if ct, ok := t.(*CookieTransport); ok {
		// The Manager's own clock and proxies, which the Transport
		// interface cannot carry.
		secure := ct.secure(s.r, s.m.Proxies)
		switch {
		case c.clear:
			ct.clearToken(w, secure)
		case c.sigOnly:
			ct.setSignature(w, secure, c.token, c.expires, s.m.now())
		default:
			ct.setToken(w, secure, c.token, c.expires, s.m.now())
		}
	} else if c.clear {
		t.ClearToken(w, s.r)
	} else {
		t.SetToken(w, s.r, c.token, c.expires)
	}
	keepTokenPrivate(w.Header(), respHeader)
}

// Key returns the store key of the session ("" while it has no ID). Unlike
// the ID it is safe to log and show: it cannot be turned back into a
// token.
func (s *Session) Key() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil {
		return ""
	}
	return s.key
}
