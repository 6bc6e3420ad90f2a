package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Commits to one session from one Manager meet here before they meet at
// the store.
//
// A request that saves changes to a stored session first joins the queue
// of its session key. When no commit for the key is in flight it leads at
// once: it saves on what it loaded, as if there were no queue, and a
// conflict (another process, or another Manager, saved first) is retried
// as before. Requests that arrive while a commit is in flight wait behind
// it; when it ends, the first of them leads the next batch: the change
// logs of every waiting request are applied, in arrival order, to what
// the previous batch saved (or to a fresh load), and saved with one
// compare-and-swap. Each request then learns the saved state and record,
// which is what its own Set-Cookie is made from. So writers in one
// process never conflict with one another, however many there are, and
// compare-and-swap with retries is left to writers in different
// processes.
//
// The queues belong to the Manager's backend and hold an entry only while
// a commit for the key is in flight; no goroutine is started.

// commitQueues holds the queues of the keys with a commit in flight, in
// shards so that commits to different sessions rarely share a lock.
type commitQueues struct {
	seed   maphash.Seed
	shards [queueShards]queueShard
}

const queueShards = 64

// queueShard holds its keys in a slice: only keys with a commit in flight
// have an entry, so it is short, and a scan costs less than a map's
// hashing.
type queueShard struct {
	mu     sync.Mutex
	queues []keyQueue
}

// keyQueue is a key with a commit in flight: the commits waiting behind
// it, and, while a waiting commit has been told to lead but has not yet
// started, what the last batch saved.
type keyQueue struct {
	key     string
	waiting []*queuedCommit
	base    *snapshot
}

// find returns the index of key's entry, or -1. sh.mu must be held.
func (sh *queueShard) find(key string) int {
	for i := range sh.queues {
		if sh.queues[i].key == key {
			return i
		}
	}
	return -1
}

// remove drops entry i. sh.mu must be held.
func (sh *queueShard) remove(i int) {
	last := len(sh.queues) - 1
	sh.queues[i] = sh.queues[last]
	sh.queues[last] = keyQueue{}
	sh.queues = sh.queues[:last]
}

// change is what one request brings to a batch: its change log and the
// time it is committed at. A change with lastUse (a detached session's,
// not a use by the client) does not move the session's last use: unless
// another change of the batch is a use, the batch saves at the last use
// the stored state knows of.
type change struct {
	now     time.Time
	ops     []op
	lastUse bool
}

type queueState uint8

const (
	queued   queueState = iota // in keyQueue.waiting
	taken                      // in a leader's batch
	promoted                   // told to lead the next batch
	done                       // its result is set
)

// queuedCommit is one request waiting in a key's queue.
type queuedCommit struct {
	change
	ctx   context.Context
	wake  chan struct{} // receives once: promoted or done
	state queueState    // guarded by the shard's mu

	// The result, set before state becomes done: the saved state (the
	// request's own copy), or ended, or err.
	saved *snapshot
	ended bool
	err   error
}

// snapshot is a session's state as stored under a version.
type snapshot struct {
	rec     Record
	st      State
	userKey string
}

func (sn *snapshot) clone() *snapshot {
	c := *sn
	c.st.Values = slices.Clone(sn.st.Values)
	return &c
}

func (sn *snapshot) apply(ops []op) {
	for _, o := range ops {
		applyOp(&sn.st, &sn.userKey, o)
	}
}

func newCommitQueues() *commitQueues {
	return &commitQueues{seed: maphash.MakeSeed()}
}

func (q *commitQueues) shard(key string) *queueShard {
	return &q.shards[maphash.String(q.seed, key)%queueShards]
}

// join enters the queue of key (in its shard sh). It returns nil when the
// caller leads (no commit for key was in flight), and otherwise the entry
// to wait on.
func (sh *queueShard) join(ctx context.Context, key string, c change) *queuedCommit {
	sh.mu.Lock()
	i := sh.find(key)
	if i < 0 {
		sh.queues = append(sh.queues, keyQueue{key: key})
		sh.mu.Unlock()
		return nil
	}
	// The request's own log may grow after it returns (a later change
	// in the same handler): the batch reads a copy.
	c.ops = slices.Clone(c.ops)
	w := &queuedCommit{change: c, ctx: ctx, wake: make(chan struct{}, 1)}
	sh.queues[i].waiting = append(sh.queues[i].waiting, w)
	sh.mu.Unlock()
	return w
}

// wait blocks until w is told to lead (promoted) or its batch is done,
// or its context ends. A request whose context ends while it is still
// queued leaves the queue and its changes are not saved; one whose batch
// is already under way returns at once too, and its changes may or may
// not be saved, as when a store call times out.
func (sh *queueShard) wait(key string, w *queuedCommit) (lead bool, err error) {
	select {
	case <-w.wake:
		return w.state == promoted, nil
	case <-w.ctx.Done():
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch w.state {
	case queued:
		if i := sh.find(key); i >= 0 {
			kq := &sh.queues[i]
			if j := slices.Index(kq.waiting, w); j >= 0 {
				kq.waiting = slices.Delete(kq.waiting, j, j+1)
			}
		}
	case promoted:
		// Pass the lead on, with the base it came with.
		if i := sh.find(key); i >= 0 {
			sh.promoteLocked(i, sh.queues[i].base)
		}
	case done:
		return false, nil
	}
	return false, w.ctx.Err()
}

// take hands a commit that was told to lead the requests waiting behind
// it, and what the last batch saved (nil when that batch failed).
func (sh *queueShard) take(key string) ([]*queuedCommit, *snapshot) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(key)
	if i < 0 {
		return nil, nil // cannot happen: the entry lives while it leads
	}
	kq := &sh.queues[i]
	batch, base := kq.waiting, kq.base
	for _, w := range batch {
		w.state = taken
	}
	kq.waiting, kq.base = nil, nil
	return batch, base
}

// finish ends the leader's turn: every request of its batch learns its
// result, and the first request waiting, if any, is told to lead the
// next batch from saved (nil when the batch failed), of which it gets
// its own copy.
func (sh *queueShard) finish(key string, batch []*queuedCommit, saved func() *snapshot) {
	sh.mu.Lock()
	for _, w := range batch {
		w.state = done
		w.wake <- struct{}{}
	}
	if i := sh.find(key); i >= 0 {
		var base *snapshot
		if len(sh.queues[i].waiting) > 0 {
			base = saved()
		}
		sh.promoteLocked(i, base)
	}
	sh.mu.Unlock()
}

// promoteLocked tells the first request waiting in entry i to lead, or
// drops the entry when none waits. sh.mu must be held.
func (sh *queueShard) promoteLocked(i int, base *snapshot) {
	kq := &sh.queues[i]
	if len(kq.waiting) == 0 {
		sh.remove(i)
		return
	}
	next := kq.waiting[0]
	kq.waiting = kq.waiting[1:]
	kq.base = base
	next.state = promoted
	next.wake <- struct{}{}
}

// idle reports whether no queue entry is left (for tests).
func (q *commitQueues) idle() bool {
	for i := range q.shards {
		sh := &q.shards[i]
		sh.mu.Lock()
		n := len(sh.queues)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// errCommitAbandoned is what the requests of a batch learn if its leader
// stopped without finishing it (a panic in a codec or an Observer).
var errCommitAbandoned = errors.New("sessionkit: save session: the commit it was merged with was abandoned")

// batchContext returns the context a batch's store calls run under: it
// carries the leader's values and ends only once every request of the
// batch has ended (or stop is called), so that one client going away does
// not fail the others' save.
func batchContext(leader context.Context, batch []*queuedCommit) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(leader))
	var live atomic.Int64
	live.Store(int64(len(batch) + 1))
	gone := func() {
		if live.Add(-1) == 0 {
			cancel()
		}
	}
	stops := make([]func() bool, 0, len(batch)+1)
	stops = append(stops, context.AfterFunc(heldDone(leader), gone))
	for _, w := range batch {
		stops = append(stops, context.AfterFunc(heldDone(w.ctx), gone))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// doneHeld is a request's context seen through the Done channel it
// returned while the request was being served.
type doneHeld struct {
	context.Context
	done <-chan struct{}
}

func (c doneHeld) Done() <-chan struct{} { return c.done }

// Err reports the end of the held channel without asking the request's
// context again (the batch only needs to know that it ended).
func (c doneHeld) Err() error {
	if isClosed(c.done) {
		return context.Canceled
	}
	return nil
}

// heldDone returns ctx with its Done channel read now, on the request's
// goroutine. context.AfterFunc watches a context of a type it does not
// know (fasthttp's RequestCtx under Fiber) from a goroutine of its own,
// which may first call Done after the request has ended; fasthttp's Done
// reads server state that its Shutdown writes without synchronisation.
// The held channel is the one Done would return, so contexts the context
// package knows keep its fast path (no goroutine).
func heldDone(ctx context.Context) context.Context {
	return doneHeld{Context: ctx, done: ctx.Done()}
}

// recordError is a change set that cannot be encoded into a record (too
// large, or refused by the codec): no store call was made.
type recordError struct{ err error }

func (e recordError) Error() string { return e.err.Error() }
func (e recordError) Unwrap() error { return e.err }

// saveChanges applies changes, in order, to base (or, when base is nil,
// to the record stored under key) and saves the result with
// compare-and-swap; when another writer saved first it loads the record
// again, applies the changes again and retries, up to Manager.MaxRetries
// conflicts in all (attempt counts those already seen). It returns the
// saved state, or nil when the session no longer exists (destroyed or
// revoked meanwhile: the changes must not bring it back). base is
// modified.
func (m *Manager) saveChanges(ctx context.Context, key string, base *snapshot, changes []change, attempt int) (*snapshot, error) {
	var used time.Time // the latest use among the changes; zero: none
	for _, c := range changes {
		if !c.lastUse && c.now.After(used) {
			used = c.now
		}
	}
	for ; ; attempt++ {
		if base == nil {
			var err error
			if base, err = m.loadSnapshot(ctx, key); err != nil || base == nil {
				return nil, err
			}
		}
		now := used
		if now.IsZero() {
			// Read from the stored state, before the changes: its
			// expiry was set with its own idle timeout.
			now = m.lastActive(base.st, base.rec)
		}
		for _, c := range changes {
			base.apply(c.ops)
		}
		exp := m.expiry(base.st, now)
		rec, err := m.record(&base.st, base.userKey, base.rec.Version, now, exp)
		if err != nil {
			return nil, recordError{err}
		}
		v, err := m.saveRecord(ctx, key, rec)
		if err == nil {
			rec.Version = v
			base.rec = rec
			return base, nil
		}
		if !errors.Is(err, ErrConflict) {
			// The store may have saved it all the same: see
			// Session.settleUnsure.
			return nil, &unsureSave{err: fmt.Errorf("sessionkit: save session: %w", err), data: rec.Data}
		}
		m.observe(Event{Kind: EventConflict, Ctx: ctx})
		if attempt >= m.MaxRetries {
			m.observe(Event{Kind: EventTooManyConflicts, Ctx: ctx})
			return nil, fmt.Errorf("sessionkit: save session after %d attempts: %w", attempt+1, ErrTooManyConflicts)
		}
		// The first conflict usually means the version this request
		// loaded was overtaken by a commit this process made (the queue
		// has already ordered those): load again at once. Later ones are
		// writers elsewhere: spread out.
		if attempt > 0 {
			if err := backoff(ctx, attempt-1); err != nil {
				return nil, fmt.Errorf("sessionkit: save session: %w", err)
			}
		}
		base = nil
	}
}

// loadSnapshot loads and decodes the record under key; nil when there is
// none.
func (m *Manager) loadSnapshot(ctx context.Context, key string) (*snapshot, error) {
	rec, err := m.backend.load(ctx, m, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sessionkit: reload session: %w", err)
	}
	sn, err := m.snapshotOf(rec)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sessionkit: reload session: %w", err)
	}
	return sn, nil
}

// snapshotOf decodes a loaded record. A record expired by the format's
// own clock (see Codec) is an error wrapping ErrNotFound.
func (m *Manager) snapshotOf(rec Record) (*snapshot, error) {
	st, err := m.Codec.Decode(rec.Data)
	if err != nil {
		return nil, err
	}
	return &snapshot{rec: rec, st: st, userKey: rec.UserKey}, nil
}

// saveBatch saves the leader's changes and those of batch (in order) on
// base, and gives every request of the batch its result. It returns the
// leader's: its saved state, or nil when the session ended.
func (m *Manager) saveBatch(ctx context.Context, key string, lead change, batch []*queuedCommit, base *snapshot, attempt int) (*snapshot, error) {
	changes := make([]change, 0, len(batch)+1)
	changes = append(changes, lead)
	for _, w := range batch {
		changes = append(changes, w.change)
	}
	saved, err := m.saveChanges(ctx, key, base, changes, attempt)
	var re recordError
	if len(batch) > 0 && errors.As(err, &re) {
		// One request's changes make the merged session unsaveable (too
		// large, say): save them one at a time, so that only the
		// requests whose own changes fail are refused.
		return m.saveEach(ctx, key, lead, batch)
	}
	if errors.As(err, &re) {
		err = re.err
	}
	for _, w := range batch {
		w.settle(saved, err)
	}
	return saved, err
}

// settle sets w's result: saved (of which w gets its own copy), the end
// of the session (saved == nil), or err.
func (w *queuedCommit) settle(saved *snapshot, err error) {
	w.saved, w.ended, w.err = nil, false, err
	switch {
	case err != nil:
	case saved == nil:
		w.ended = true
	default:
		w.saved = saved.clone()
	}
}

// saveEach saves the leader's changes, then each waiting request's, each
// with its own compare-and-swap.
func (m *Manager) saveEach(ctx context.Context, key string, lead change, batch []*queuedCommit) (*snapshot, error) {
	var cur *snapshot // what was last saved; nil: load it
	ended := false
	one := func(c change) (*snapshot, error) {
		if ended {
			return nil, nil
		}
		in := cur
		if in != nil {
			in = in.clone()
		}
		saved, err := m.saveChanges(ctx, key, in, []change{c}, 0)
		var re recordError
		if errors.As(err, &re) {
			return nil, re.err
		}
		switch {
		case err != nil:
			cur = nil // the next one loads what is stored
		case saved == nil:
			ended = true
		default:
			cur = saved
		}
		return saved, err
	}
	leadSaved, leadErr := one(lead)
	for _, w := range batch {
		saved, err := one(w.change)
		w.settle(saved, err)
	}
	return leadSaved, leadErr
}
