package sessionkit

import (
	"context"
	"runtime"
	"testing"
)

// serverContext is a request context of a type the context package does
// not know, whose Done reads state that the server writes, without
// synchronisation, once the request is over (fasthttp's RequestCtx does
// this on Shutdown).
type serverContext struct {
	context.Context
	done chan struct{}
}

func (c *serverContext) Done() <-chan struct{} { return c.done }

func (c *serverContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestBatchContextReadsDoneOnTheRequest: a merged commit's context asks
// each request's context for its Done channel while the requests are being
// served, never later from a goroutine of its own. Under -race the
// server's write after the batch ended is reported otherwise.
func TestBatchContextReadsDoneOnTheRequest(t *testing.T) {
	base := runtime.NumGoroutine()
	ctxs := make([]*serverContext, 3)
	for i := range ctxs {
		ctxs[i] = &serverContext{Context: context.Background(), done: make(chan struct{})}
	}
	batch := []*queuedCommit{{ctx: ctxs[1]}, {ctx: ctxs[2]}}
	ctx, stop := batchContext(ctxs[0], batch)
	if ctx.Err() != nil {
		t.Fatalf("batch context ended before its requests: %v", ctx.Err())
	}
	stop()
	if ctx.Err() == nil {
		t.Fatal("batch context still live after stop")
	}
	// The requests are over: the server reuses their state.
	for _, c := range ctxs {
		c.done = nil
	}
	// Let any goroutine the batch started run to its end.
	for runtime.NumGoroutine() > base {
		runtime.Gosched()
	}
}

// TestBatchContextEndsWithItsLastRequest: the batch's store calls go on
// while any of its requests is live, and end when the last one ends.
func TestBatchContextEndsWithItsLastRequest(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		var ctxs []context.Context
		var ends []func()
		for range 3 {
			if foreign {
				c := &serverContext{Context: context.Background(), done: make(chan struct{})}
				ctxs, ends = append(ctxs, c), append(ends, func() { close(c.done) })
			} else {
				c, cancel := context.WithCancel(context.Background())
				ctxs, ends = append(ctxs, c), append(ends, cancel)
			}
		}
		ctx, stop := batchContext(ctxs[0], []*queuedCommit{{ctx: ctxs[1]}, {ctx: ctxs[2]}})
		ends[0]()
		ends[2]()
		if ctx.Err() != nil {
			t.Fatalf("foreign=%v: batch ended while a request is live", foreign)
		}
		ends[1]()
		<-ctx.Done()
		stop()
	}
}
