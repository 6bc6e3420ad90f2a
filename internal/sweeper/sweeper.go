// Package sweeper runs a store's expired-record cleanup in the background,
// the one way every store in this module does it: on a jittered interval,
// each run bounded by a timeout, stopped (and waited for) by Stop.
package sweeper

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Config describes a background sweep.
type Config struct {
	// Interval between runs. Must be positive.
	Interval time.Duration
	// Jitter spreads runs by ±Jitter×Interval (0 to 1), so that many
	// processes sharing one database do not sweep in step.
	Jitter float64
	// Timeout bounds one run (0: none beyond Stop).
	Timeout time.Duration
	// Sweep deletes expired records and reports how many.
	Sweep func(ctx context.Context) (int, error)
	// Report, if set, is called after each run with its outcome. It is
	// not called for a run that Stop interrupted.
	Report func(n int, err error)
}

// Loop is a running background sweep.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start starts the sweep goroutine. Call Stop to end it.
func Start(c Config) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go l.run(ctx, c)
	return l
}

func (l *Loop) run(ctx context.Context, c Config) {
	defer close(l.done)
	for {
		t := time.NewTimer(next(c.Interval, c.Jitter))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		runCtx, cancel := ctx, context.CancelFunc(func() {})
		if c.Timeout > 0 {
			runCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		}
		n, err := c.Sweep(runCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if c.Report != nil {
			c.Report(n, err)
		}
	}
}

// next returns the interval with jitter applied.
func next(interval time.Duration, jitter float64) time.Duration {
	if jitter <= 0 {
		return interval
	}
	jitter = min(jitter, 1)
	return time.Duration(float64(interval) * (1 - jitter + 2*jitter*rand.Float64()))
}

// Stop ends the loop, interrupting a run in progress, and waits for the
// goroutine to exit. It is safe to call more than once and on a nil Loop.
func (l *Loop) Stop() {
	if l == nil {
		return
	}
	l.once.Do(l.cancel)
	<-l.done
}
