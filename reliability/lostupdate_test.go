package reliability

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestLostUpdates sends bursts of concurrent requests on one session, each
// setting a different key, through the middleware on every store, and
// checks that every key whose request was acknowledged is in the session
// afterwards.
//
// With MaxRetries of at least the burst size minus one, every request must
// also succeed: a save loses its compare-and-swap only to another
// request's successful save, so one that has lost burst-1 times has seen
// every other request through. With the default MaxRetries some requests
// of a large burst may instead be refused (the ErrorHandler's 503, never
// acknowledged); the test logs how many.
func TestLostUpdates(t *testing.T) {
	const (
		burst  = 16
		rounds = 3
	)
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			store := sc.open(t)
			for _, cfg := range []struct {
				name       string
				maxRetries int // 0: the Manager's default
			}{
				{"MaxRetries=burst", burst},
				{"default MaxRetries", 0},
			} {
				m := newManager(store)
				// Only conflicts may refuse a request here: give slow
				// backends on a busy machine all the time they need.
				m.OpTimeout = 30 * time.Second
				if cfg.maxRetries > 0 {
					m.MaxRetries = cfg.maxRetries
				}
				var (
					errMu     sync.Mutex
					otherErrs []error
				)
				m.Observer = func(e sessionkit.Event) {
					if e.Kind == sessionkit.EventError && !errors.Is(e.Err, sessionkit.ErrTooManyConflicts) {
						errMu.Lock()
						otherErrs = append(otherErrs, e.Err)
						errMu.Unlock()
					}
				}
				base := serve(t, appHandler(m))
				tr := newTransport(burst)
				defer tr.CloseIdleConnections()
				var sent, acked, refused int
				for round := range rounds {
					a, r := lostUpdateRound(t, tr, base, burst, fmt.Sprintf("r%d", round))
					sent += burst
					acked += a
					refused += r
				}
				t.Logf("%s, %s: %d sent, %d acknowledged, %d refused with 503, 0 acknowledged lost",
					sc.name, cfg.name, sent, acked, refused)
				if len(otherErrs) > 0 {
					t.Errorf("%s: %d errors other than too many conflicts, first: %v", cfg.name, len(otherErrs), otherErrs[0])
				}
				if cfg.maxRetries > 0 && acked != sent {
					t.Errorf("%s: %d of %d requests acknowledged, want all", cfg.name, acked, sent)
				}
			}
		})
	}
}

// lostUpdateRound creates a session, sends burst concurrent /set requests
// on it and checks the acknowledged keys are all there. It returns how
// many requests were acknowledged and how many were refused with 503.
func lostUpdateRound(t *testing.T, tr http.RoundTripper, base string, burst int, tag string) (acked, refused int) {
	ctx := t.Context()
	b := newBrowser(tr, base)
	b.mustDo(t, "/incr") // the session exists before the burst
	var (
		mu   sync.Mutex
		want []string
		wg   sync.WaitGroup
	)
	gate := make(chan struct{})
	for i := range burst {
		wg.Go(func() {
			<-gate
			key := fmt.Sprintf("k-%s-%02d", tag, i)
			a, err := b.get(ctx, "/set?k="+key)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("set %s: %v", key, err)
			case a.code == http.StatusOK:
				acked++
				want = append(want, key)
			case a.code == http.StatusServiceUnavailable:
				// The Observer checks that the cause was too many
				// conflicts.
				refused++
			default:
				t.Errorf("set %s = %d %q, want 200 or 503", key, a.code, a.body)
			}
		})
	}
	close(gate)
	wg.Wait()
	got := map[string]bool{}
	for _, k := range strings.Split(b.mustDo(t, "/keys"), ",") {
		got[k] = true
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("acknowledged key %s lost", k)
		}
	}
	return acked, refused
}
