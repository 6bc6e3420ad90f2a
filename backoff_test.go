package sessionkit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoffIsBoundedAndCancellable(t *testing.T) {
	for attempt := range 40 {
		start := time.Now()
		if err := backoff(context.Background(), attempt); err != nil {
			t.Fatal(err)
		}
		// Generous: the wait itself is at most backoffCap.
		if took := time.Since(start); took > backoffCap+time.Second {
			t.Fatalf("attempt %d waited %v", attempt, took)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff(ctx, 30); !errors.Is(err, context.Canceled) {
		t.Fatalf("backoff on a cancelled context = %v", err)
	}
}
