package sessionkit

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

func TestOpDeadlineWithoutWaiting(t *testing.T) {
	c := newOpDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	if err := c.Err(); err != nil {
		t.Fatalf("fresh Err = %v", err)
	}
	time.Sleep(30 * time.Millisecond)
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
