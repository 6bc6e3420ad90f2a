package sessionkit

import (
	"context"
	"sync"
	"time"
)

// opDeadline is the context each store call runs under: its parent plus a
// deadline. Unlike context.WithDeadline it starts no timer until someone
// waits on Done, so calls that only poll Err (an in-memory store) cost no
// timer, while network drivers that wait on Done get the usual behaviour.
// Err and Deadline honour the deadline either way.
type opDeadline struct {
	parent   context.Context
	deadline time.Time

	mu      sync.Mutex
	done    chan struct{} // nil until Done is first called
	err     error         // set once done is closed
	timer   *time.Timer
	unwatch func() bool // stops watching the parent
	after   map[*func()]struct{}

	// watch, when not nil, is the request's shared timer and parent
	// watch, used instead of timer and unwatch when it is free.
	watch *opWatch
}

func newOpDeadline(parent context.Context, d time.Time) *opDeadline {
	c := new(opDeadline)
	c.init(parent, d)
	return c
}

// init is newOpDeadline for a zero opDeadline the caller provides.
func (c *opDeadline) init(parent context.Context, d time.Time) {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	c.parent, c.deadline = parent, d
}

// Deadline implements context.Context.
func (c *opDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context.
func (c *opDeadline) Value(key any) any { return c.parent.Value(key) }

// Done implements context.Context. The first call starts the timer and
// the watch on the parent.
func (c *opDeadline) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err != nil { // released before anyone waited
		close(c.done)
		return c.done
	}
	if err := c.expired(); err != nil {
		c.finishLocked(err)
		return c.done
	}
	if c.watch != nil && c.watch.arm(c) {
		// The parent may have ended before the watch was registered,
		// or while it was armed for an earlier call.
		if err := c.parent.Err(); err != nil {
			c.finishLocked(err)
		}
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.finish(context.DeadlineExceeded) })
	c.unwatch = context.AfterFunc(c.parent, func() { c.finish(c.parent.Err()) })
	return c.done
}

// Err implements context.Context.
func (c *opDeadline) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return c.expired()
}

// expired reports the parent's error or a passed deadline.
func (c *opDeadline) expired() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	// With a deadline made from time.Now (a monotonic reading), Until
	// reads only the monotonic clock: cheaper than time.Now, which reads
	// the wall clock as well.
	if time.Until(c.deadline) <= 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc arranges for f to run in its own goroutine once the context
// is done, like context.AfterFunc. The context package calls it when a
// context is derived from this one, so that deriving costs no goroutine.
func (c *opDeadline) AfterFunc(f func()) (stop func() bool) {
	c.Done() // start watching
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = map[*func()]struct{}{}
	}
	key := &f
	c.after[key] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, pending := c.after[key]
		delete(c.after, key)
		return pending
	}
}

func (c *opDeadline) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(err)
}

func (c *opDeadline) finishLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	c.stopLocked()
}

// release stops the timer and the parent watch; the Manager calls it when
// the store call returns, as it would call a CancelFunc.
func (c *opDeadline) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = context.Canceled
		if c.done != nil {
			close(c.done)
		}
	}
	c.stopLocked()
}

// stopLocked stops the timer and the parent watch, and runs the AfterFunc
// callbacks (the context is done). c.mu must be held.
func (c *opDeadline) stopLocked() {
	for f := range c.after {
		go (*f)()
	}
	c.after = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.unwatch != nil {
		c.unwatch()
	}
	if c.watch != nil {
		c.watch.disarm(c)
	}
}

// opWatch is the timer and the watch on the request's context that the
// store calls of one request share, one call at a time: a request that
// waits on two store calls (a load and a save) then starts one timer
// instead of two. A call that finds the watch busy (calls made
// concurrently, which the Session's lock rules out for its own calls) or
// closed uses its own timer and watch.
//
// The watch does not register with the request's context: that
// (context.AfterFunc) costs a child context and five allocations per
// request, for an event, the client going away in the middle of a store
// call, that almost never happens. Instead the timer also fires every
// parentPoll while a call waits, and ends the call if the request's
// context has ended by then. A call waiting when the client goes away
// therefore ends up to parentPoll later than it would on its own watch;
// one that the store answers within parentPoll (nearly all) costs one
// timer reset. Done also checks the request's context when the call
// starts, and Err checks it whenever it is called.
//
// Lock order: an opDeadline's mu before the watch's; the watch's callbacks
// release its mu before finishing the call they found.
type opWatch struct {
	parent context.Context // the request's context: the parent of every call

	mu     sync.Mutex
	cur    *opDeadline     // the call armed now, if any
	timer  *time.Timer     // fires at cur's deadline or its next poll
	done   <-chan struct{} // parent.Done(), read on the request's goroutine
	closed bool            // the request is over: arm no more
}

// parentPoll is how often a waiting call checks the request's context
// (see opWatch).
const parentPoll = 10 * time.Millisecond

// arm makes w fire for c (at c's deadline, or at the first poll after the
// parent ends) and reports whether it did; it does not when another call
// holds w or w is closed. c.mu must be held and c.parent must be w.parent.
func (w *opWatch) arm(c *opDeadline) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.cur != nil {
		return false
	}
	if w.done == nil {
		// Read here, on the goroutine that waits, so that the timer's
		// goroutine never calls the request context's Done (fasthttp's
		// RequestCtx under Fiber must not be asked after its request).
		w.done = w.parent.Done()
	}
	w.cur = c
	d := min(time.Until(c.deadline), parentPoll)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
	return true
}

// disarm releases w if c holds it. c.mu must be held.
func (w *opWatch) disarm(c *opDeadline) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == c {
		w.cur = nil
		w.timer.Stop()
	}
}

// fire ends the armed call if its deadline has passed or the request's
// context has ended, and otherwise waits for the next poll. A timer armed
// for an earlier call may fire after it was released and the timer
// re-armed for a later one: the later call is then checked early, which
// changes nothing.
func (w *opWatch) fire() {
	w.mu.Lock()
	c := w.cur
	var err error
	if c != nil {
		left := time.Until(c.deadline)
		switch {
		case left <= 0:
			err = context.DeadlineExceeded
		case isClosed(w.done):
			if err = w.parent.Err(); err == nil {
				err = context.Canceled
			}
		default:
			w.timer.Reset(min(left, parentPoll))
		}
	}
	w.mu.Unlock()
	if err != nil {
		c.finish(err)
	}
}

// isClosed reports whether done is closed; a nil channel never is.
func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// close stops w's timer when the request is over. A call still armed
// (one made from another goroutine after the Handler returned) keeps it
// until it is released.
func (w *opWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.cur == nil && w.timer != nil {
		w.timer.Stop()
	}
}
