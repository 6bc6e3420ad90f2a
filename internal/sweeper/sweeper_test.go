package sweeper

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunsUntilStopped(t *testing.T) {
	var runs atomic.Int64
	reported := make(chan error, 100)
	l := Start(Config{
		Interval: time.Millisecond,
		Jitter:   0.5,
		Sweep: func(ctx context.Context) (int, error) {
			if runs.Add(1) == 2 {
				return 0, errors.New("boom")
			}
			return 1, nil
		},
		Report: func(n int, err error) {
			select {
			case reported <- err:
			default:
			}
		},
	})
	var sawErr bool
	for range 3 {
		if err := <-reported; err != nil {
			sawErr = true
		}
	}
	l.Stop()
	l.Stop() // idempotent
	after := runs.Load()
	time.Sleep(10 * time.Millisecond)
	if runs.Load() != after {
		t.Fatal("sweep ran after Stop returned")
	}
	if !sawErr {
		t.Fatal("the failed run was not reported")
	}
	var nilLoop *Loop
	nilLoop.Stop()
}

func TestStopInterruptsARun(t *testing.T) {
	started := make(chan struct{})
	l := Start(Config{
		Interval: time.Millisecond,
		Sweep: func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		},
		Report: func(int, error) { t.Error("an interrupted run was reported") },
	})
	<-started
	l.Stop()
}

func TestTimeoutBoundsARun(t *testing.T) {
	got := make(chan error, 1)
	l := Start(Config{
		Interval: time.Millisecond,
		Timeout:  5 * time.Millisecond,
		Sweep: func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		},
		Report: func(_ int, err error) {
			select {
			case got <- err:
			default:
			}
		},
	})
	defer l.Stop()
	if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the run's deadline", err)
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	for range 1000 {
		d := next(time.Second, 0.2)
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("next = %v, outside ±20%%", d)
		}
	}
	if d := next(time.Second, 0); d != time.Second {
		t.Fatalf("no jitter: %v", d)
	}
}
