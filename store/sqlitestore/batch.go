package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// Writes of one Store are serialised and committed in groups: the caller
// that finds no write in progress becomes the leader, waits for the file's
// write lock (BEGIN IMMEDIATE, bounded by its own context and the busy
// timeout; see lock), takes every write queued by then, runs them in that one
// transaction in arrival order and commits them with one fsync. Callers
// that arrive meanwhile queue up and are taken by the next leader, so
// commits/s grow with the number of concurrent writers while every write
// is still on disk before it is acknowledged. No goroutine is started:
// the leader is one of the callers.
//
// A queued write whose context ends before a leader has taken it is
// dropped, and its caller returns at once; a write that has been taken
// (the leader holds the lock by then, so that is for the duration of a
// few statements and a commit) is waited for. If a statement fails, the
// transaction is rolled back and every write of the group is run again in
// a transaction of its own, so that one bad write cannot fail the others.

// execer is what a write's statements run on: the Store's write
// connection, inside the group's transaction or on their own.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// A write's state moves from queued to taken (by a leader) to done, or
// from queued to dropped (its caller left).
const (
	queued int32 = iota
	taken
	dropped
	done
)

type pendingWrite struct {
	ctx   context.Context
	run   func(ctx context.Context, db execer) error
	state atomic.Int32
	err   error // set before done is closed
	done  chan struct{}
}

func (w *pendingWrite) finish(err error) {
	w.err = err
	w.state.Store(done)
	close(w.done)
}

// writer groups a Store's writes.
type writer struct {
	db          *sql.DB
	busyTimeout time.Duration
	slot        chan struct{} // held by the leader
	mu          sync.Mutex
	q           []*pendingWrite

	// The write connection and its prepared statements, used by the
	// leader only (opened on first use, dropped when it breaks).
	conn *sql.Conn
	st   *stmts

	groups atomic.Int64 // transactions of more than one write committed (for tests)
}

func newWriter(db *sql.DB, busyTimeout time.Duration) *writer {
	return &writer{db: db, busyTimeout: busyTimeout, slot: make(chan struct{}, 1)}
}

// write runs fn, which must report store outcomes (a conflict, a missing
// row) through variables it sets and return an error only for a failure.
// fn may run more than once (after a failed group), so it must reset
// those variables on entry. It returns fn's error, or ctx's when the write
// was dropped before it ran.
func (wr *writer) write(ctx context.Context, fn func(ctx context.Context, db execer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &pendingWrite{ctx: ctx, run: fn, done: make(chan struct{})}
	wr.mu.Lock()
	wr.q = append(wr.q, w)
	wr.mu.Unlock()
	select {
	case wr.slot <- struct{}{}:
		for w.state.Load() != done {
			wr.runGroup(w)
		}
		<-wr.slot
		return w.err
	case <-w.done:
		return w.err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, dropped) {
			return ctx.Err()
		}
		<-w.done // taken: the leader holds the lock and finishes it soon
		return w.err
	}
}

// take moves the queued writes into a group, dropping those whose callers
// left.
func (wr *writer) take() []*pendingWrite {
	wr.mu.Lock()
	q := wr.q
	wr.q = nil
	wr.mu.Unlock()
	group := q[:0]
	for _, w := range q {
		if w.state.CompareAndSwap(queued, taken) {
			group = append(group, w)
		}
	}
	return group
}

// connection returns the write connection, opening it if needed. Only
// the leader calls it. The connection waits for no lock itself (busy
// timeout 0): lock polls instead.
func (wr *writer) connection(ctx context.Context) (*stmts, error) {
	if wr.conn == nil {
		c, err := wr.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
			c.Close()
			return nil, err
		}
		wr.conn, wr.st = c, newStmts(c)
	}
	return wr.st, nil
}

// check drops the write connection when err says it is gone, so that the
// next leader opens another.
func (wr *writer) check(err error) {
	if wr.conn != nil && (errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
		wr.drop()
	}
}

// drop closes the write connection's statements and hands it back to the
// pool with the pool's busy timeout.
func (wr *writer) drop() {
	wr.st.close()
	wr.conn.ExecContext(context.Background(), "PRAGMA busy_timeout = "+strconv.FormatInt(wr.busyTimeout.Milliseconds(), 10))
	wr.conn.Close()
	wr.conn, wr.st = nil, nil
}

// close waits for the write in progress, if any, and closes the write
// connection.
func (wr *writer) close() {
	wr.slot <- struct{}{}
	defer func() { <-wr.slot }()
	if wr.conn != nil {
		wr.drop()
	}
}

// lockPoll is the average wait between two attempts to take the file's
// write lock while another process holds it.
const lockPoll = time.Millisecond

// lock begins a write transaction, waiting for another process's write
// lock until ctx ends or the busy timeout passes. It polls every
// millisecond or so (jittered) instead of leaving the wait to SQLite,
// whose busy handler sleeps up to 100ms between attempts: a process
// writing without pause releases the lock only for moments between its
// commits, and a waiter that looks only every 100ms can starve for
// seconds (measured: slowest calls of 2.6 to 3.2s with two and six
// processes, against a fraction of a second polling this way).
func (wr *writer) lock(ctx context.Context, st *stmts) error {
	deadline := time.Now().Add(wr.busyTimeout)
	for {
		_, err := st.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil || !isBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another process held the write lock for longer than the busy timeout (%s): %w", wr.busyTimeout, err)
		}
		t := time.NewTimer(lockPoll/2 + rand.N(lockPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5
}

// runGroup takes the write lock under the leader's context — so that
// writes queued meanwhile can still be dropped by their callers — and
// then runs every queued write in that one transaction.
func (wr *writer) runGroup(own *pendingWrite) {
	ctx := own.ctx
	st, err := wr.connection(ctx)
	if err == nil {
		err = wr.lock(ctx, st)
		wr.check(err)
	}
	if err != nil {
		// Nothing ran; the others stay queued for the next leader.
		if own.state.CompareAndSwap(queued, taken) {
			own.finish(err)
		}
		return
	}
	group := wr.take()
	// With the lock held, statements are short: the group is not torn
	// down half-way because the leader's own deadline passes.
	stmtCtx := context.WithoutCancel(ctx)
	failed := false
	for _, w := range group {
		if err := w.run(stmtCtx, st); err != nil {
			failed = true
			break
		}
	}
	if !failed {
		if _, err := st.ExecContext(stmtCtx, "COMMIT"); err != nil {
			st.ExecContext(stmtCtx, "ROLLBACK")
			wr.check(err)
			err = fmt.Errorf("commit: %w", err)
			for _, w := range group {
				w.finish(err)
			}
			return
		}
		if len(group) > 1 {
			wr.groups.Add(1)
		}
		for _, w := range group {
			w.finish(nil)
		}
		return
	}
	// A statement failed (a full disk, an I/O error, ...): nothing of the
	// group is kept. Run each write on its own, under its own context, so
	// that only the failing ones fail.
	st.ExecContext(stmtCtx, "ROLLBACK")
	wr.check(err)
	for _, w := range group {
		w.finish(wr.runAlone(w))
	}
}

// runAlone runs one write in a transaction of its own.
func (wr *writer) runAlone(w *pendingWrite) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st, err := wr.connection(w.ctx)
	if err != nil {
		return err
	}
	if err := wr.lock(w.ctx, st); err != nil {
		wr.check(err)
		return err
	}
	ctx := context.WithoutCancel(w.ctx)
	if err := w.run(ctx, st); err != nil {
		st.ExecContext(ctx, "ROLLBACK")
		wr.check(err)
		return err
	}
	if _, err := st.ExecContext(ctx, "COMMIT"); err != nil {
		st.ExecContext(ctx, "ROLLBACK")
		wr.check(err)
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
