package sessionkit

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpDeadlineWithoutWaiting(t *testing.T) {
	// Long enough that a busy machine's scheduling delay before the first
	// Err does not pass the deadline.
	c := newOpDeadline(context.Background(), time.Now().Add(250*time.Millisecond))
	if err := c.Err(); err != nil {
		t.Fatalf("fresh Err = %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline = %v", err)
	}
	c.release()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after release = %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done after release is not closed")
	}
}

func TestOpDeadlineDoneFiresAtDeadline(t *testing.T) {
	c := newOpDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer c.release()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestOpDeadlineFollowsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), contextKey{}, "v"))
	c := newOpDeadline(parent, time.Now().Add(time.Hour))
	defer c.release()
	if c.Value(contextKey{}) != "v" {
		t.Fatal("Value not inherited")
	}
	done := c.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("parent cancellation did not reach Done")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err = %v", c.Err())
	}
	// A parent with an earlier deadline wins.
	early, cancelEarly := context.WithTimeout(context.Background(), time.Minute)
	defer cancelEarly()
	d, _ := early.Deadline()
	if got, _ := newOpDeadline(early, time.Now().Add(time.Hour)).Deadline(); !got.Equal(d) {
		t.Fatalf("Deadline = %v, want the parent's %v", got, d)
	}
}

func TestOpDeadlineDerivedContextsWithoutGoroutines(t *testing.T) {
	c := newOpDeadline(context.Background(), time.Now().Add(time.Hour))
	before := runtime.NumGoroutine()
	var derived []context.Context
	for range 50 {
		d, cancel := context.WithCancel(c)
		defer cancel()
		derived = append(derived, d)
	}
	if n := runtime.NumGoroutine() - before; n > 5 {
		t.Fatalf("deriving 50 contexts started %d goroutines", n)
	}
	c.release()
	for i, d := range derived {
		select {
		case <-d.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("derived context %d not cancelled by release", i)
		}
	}
	// Stopping an AfterFunc before the context ends prevents the call.
	c2 := newOpDeadline(context.Background(), time.Now().Add(time.Hour))
	called := make(chan struct{}, 1)
	stop := c2.AfterFunc(func() { called <- struct{}{} })
	if !stop() {
		t.Fatal("stop of a pending AfterFunc returned false")
	}
	c2.release()
	select {
	case <-called:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(20 * time.Millisecond):
	}
}

// watched returns a store call's deadline context sharing w, as
// Session.opContext makes them for a request served by Handler.
func watched(w *opWatch, d time.Duration) *opDeadline {
	c := newOpDeadline(w.parent, time.Now().Add(d))
	c.watch = w
	return c
}

// waitDone reports whether c's Done closes within wait.
func waitDone(c *opDeadline, wait time.Duration) bool {
	select {
	case <-c.Done():
		return true
	case <-time.After(wait):
		return false
	}
}

func TestOpWatchSharedBetweenCalls(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &opWatch{parent: parent}
	defer w.close()

	// The first call arms the watch and ends at its deadline.
	first := watched(w, 10*time.Millisecond)
	if !waitDone(first, 5*time.Second) || !errors.Is(first.Err(), context.DeadlineExceeded) {
		t.Fatalf("first call: Err = %v, want its deadline", first.Err())
	}
	first.release()
	if w.timer == nil {
		t.Fatal("the first call did not use the shared watch")
	}
	timer := w.timer

	// A call released before its deadline leaves a timer that may still
	// fire: it must not end the next call, whose deadline is far away.
	short := watched(w, 5*time.Millisecond)
	short.Done()
	short.release()
	long := watched(w, time.Hour)
	if waitDone(long, 50*time.Millisecond) {
		t.Fatalf("a later call ended early: %v", long.Err())
	}
	if w.timer != timer {
		t.Fatal("a later call started its own timer instead of the shared one")
	}
	// The parent's end reaches the call armed now.
	cancel()
	if !waitDone(long, 5*time.Second) || !errors.Is(long.Err(), context.Canceled) {
		t.Fatalf("after the parent ended: Err = %v, want context.Canceled", long.Err())
	}
	long.release()

	// The watch fired for the parent once; a call armed after that finds
	// the parent's error itself.
	after := watched(w, time.Hour)
	if !waitDone(after, 5*time.Second) || !errors.Is(after.Err(), context.Canceled) {
		t.Fatalf("a call after the parent ended: Err = %v", after.Err())
	}
	after.release()
}

func TestOpWatchBusyOrClosedFallsBack(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &opWatch{parent: parent}

	// Two calls at once: the second cannot share the watch and gets its
	// own timer, and both still end at their deadlines.
	a := watched(w, 20*time.Millisecond)
	b := watched(w, 10*time.Millisecond)
	a.Done()
	b.Done()
	if b.timer == nil {
		t.Fatal("a concurrent call shared a busy watch")
	}
	for name, c := range map[string]*opDeadline{"a": a, "b": b} {
		if !waitDone(c, 5*time.Second) || !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("call %s: Err = %v, want its deadline", name, c.Err())
		}
		c.release()
	}

	// After close, calls use their own timer and watch, which still see
	// the parent end.
	w.close()
	c := watched(w, time.Hour)
	c.Done()
	if c.timer == nil || c.unwatch == nil {
		t.Fatal("a call after close used the closed watch")
	}
	cancel()
	if !waitDone(c, 5*time.Second) || !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("after close and cancel: Err = %v", c.Err())
	}
	c.release()
}

// countingDone is a request context that counts its Done calls.
type countingDone struct {
	context.Context
	calls atomic.Int32
}

func (c *countingDone) Done() <-chan struct{} {
	c.calls.Add(1)
	return c.Context.Done()
}

// The shared watch reads the request context's Done once, when its first
// call starts waiting, and registers nothing with it (no child context, no
// goroutine asking it later), yet a waiting call still ends when the
// request's context does.
func TestOpWatchAsksParentDoneOnce(t *testing.T) {
	inner, cancel := context.WithCancel(context.Background())
	defer cancel()
	parent := &countingDone{Context: inner}
	w := &opWatch{parent: parent}
	defer w.close()
	for range 3 {
		c := watched(w, time.Hour)
		c.Done()
		c.release()
	}
	waiting := watched(w, time.Hour)
	waiting.Done()
	cancel()
	if !waitDone(waiting, 5*time.Second) || !errors.Is(waiting.Err(), context.Canceled) {
		t.Fatalf("after the request's context ended: Err = %v, want context.Canceled", waiting.Err())
	}
	waiting.release()
	if n := parent.calls.Load(); n != 1 {
		t.Fatalf("the request context's Done was called %d times, want 1", n)
	}
}
