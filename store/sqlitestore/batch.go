package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Writes of one Store are serialised and committed in groups: the caller
// that finds no write in progress becomes the leader, waits for the file's
// write lock (BEGIN IMMEDIATE, bounded by its own context and the busy
// timeout), takes every write queued by then, runs them in that one
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
// transaction is rolled back and every write of the group is run again on
// its own, so that one bad write cannot fail the others.

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
	db   *sql.DB
	slot chan struct{} // held by the leader
	mu   sync.Mutex
	q    []*pendingWrite

	// The write connection and its prepared statements, used by the
	// leader only (opened on first use, dropped when it breaks).
	conn *sql.Conn
	st   *stmts

	groups atomic.Int64 // transactions of more than one write committed (for tests)
}

func newWriter(db *sql.DB) *writer {
	return &writer{db: db, slot: make(chan struct{}, 1)}
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
		wr.lead(w)
		<-wr.slot
		<-w.done
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

// lead runs groups until own, the leader's own write, is done.
func (wr *writer) lead(own *pendingWrite) {
	for own.state.Load() != done {
		wr.runGroup(own)
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

// takeAlone takes own when it is the only write waiting, clearing the
// queue of writes whose callers left.
func (wr *writer) takeAlone(own *pendingWrite) bool {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	for _, w := range wr.q {
		if w != own && w.state.Load() == queued {
			return false
		}
	}
	wr.q = nil
	return own.state.CompareAndSwap(queued, taken)
}

// connection returns the write connection, opening it if needed. Only
// the leader calls it.
func (wr *writer) connection(ctx context.Context) (*sql.Conn, *stmts, error) {
	if wr.conn == nil {
		c, err := wr.db.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		wr.conn, wr.st = c, newStmts(c)
	}
	return wr.conn, wr.st, nil
}

// check drops the write connection when err says it is gone, so that the
// next leader opens another.
func (wr *writer) check(err error) {
	if wr.conn != nil && (errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
		wr.drop()
	}
}

func (wr *writer) drop() {
	wr.st.close()
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

// runGroup runs one group: own alone as a plain statement when nothing
// else waits, else every queued write in one transaction.
func (wr *writer) runGroup(own *pendingWrite) {
	ctx := own.ctx
	conn, st, err := wr.connection(ctx)
	if err != nil {
		wr.failOwn(own, err)
		return
	}

	if wr.takeAlone(own) {
		// Waiting for the lock and running is one statement under the
		// caller's own context.
		err := own.run(ctx, st)
		wr.check(err)
		own.finish(err)
		return
	}
	// Take the lock first, under the leader's context, so that writes
	// queued meanwhile can still be dropped by their callers.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		wr.check(err)
		wr.failOwn(own, err)
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
		if _, err := conn.ExecContext(stmtCtx, "COMMIT"); err != nil {
			conn.ExecContext(stmtCtx, "ROLLBACK")
			wr.check(err)
			err = fmt.Errorf("commit: %w", err)
			for _, w := range group {
				w.finish(err)
			}
			return
		}
		wr.groups.Add(1)
		for _, w := range group {
			w.finish(nil)
		}
		return
	}
	// A statement failed (a full disk, an I/O error, ...): nothing of the
	// group is kept. Run each write on its own, under its own context, so
	// that only the failing ones fail.
	conn.ExecContext(stmtCtx, "ROLLBACK")
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.finish(err)
			continue
		}
		if wr.conn == nil {
			w.finish(errors.New("the write connection was lost"))
			continue
		}
		err := w.run(w.ctx, wr.st)
		wr.check(err)
		w.finish(err)
	}
}

// failOwn ends the leader's own write with err (nothing of it ran) and
// leaves the others queued for the next leader.
func (wr *writer) failOwn(own *pendingWrite, err error) {
	if own.state.CompareAndSwap(queued, taken) {
		own.finish(err)
	}
}
