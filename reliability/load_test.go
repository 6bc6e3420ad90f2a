package reliability

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultLoad is a steady load of read-modify-write requests (/incr) from
// several browsers, each on its own session, kept up while a test breaks
// and repairs the backend. It records the highest counter value each
// browser saw acknowledged, so that the test can check none is lost.
type faultLoad struct {
	workers []*loadWorker
	stop    chan struct{}
	wg      sync.WaitGroup
	// transportOK says whether failed connections are expected (the
	// server process itself is killed) or are a failure.
	transportOK bool
	// lossOK says whether an acknowledged counter may go backwards (a
	// backend that can lose acknowledged writes): counted, not failed.
	lossOK      bool
	regressions atomic.Int64

	mu         sync.Mutex
	codes      map[int]int
	transport  int
	unexpected []string
	firstErr   time.Time
}

type loadWorker struct {
	b *browser

	mu     sync.Mutex
	acked  int       // highest acknowledged counter
	lastOK time.Time // start of the latest request answered 200
	lost   bool      // an acknowledged value was seen to go backwards
	okN    atomic.Int64
}

// loadOptions configure startLoad.
type loadOptions struct {
	workers     int
	transportOK bool // see faultLoad
	lossOK      bool // see faultLoad
}

// startLoad creates o.workers sessions on base and starts hammering them.
func startLoad(t *testing.T, tr http.RoundTripper, base string, o loadOptions) *faultLoad {
	t.Helper()
	n := o.workers
	l := &faultLoad{stop: make(chan struct{}), codes: map[int]int{}, transportOK: o.transportOK, lossOK: o.lossOK}
	for range n {
		w := &loadWorker{b: newBrowser(tr, base)}
		w.acked = atoi(t, w.b.mustDo(t, "/incr"))
		w.lastOK = time.Now()
		l.workers = append(l.workers, w)
	}
	for _, w := range l.workers {
		l.wg.Go(func() { l.run(w) })
	}
	t.Cleanup(l.halt)
	return l
}

func (l *faultLoad) run(w *loadWorker) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-l.stop
		cancel()
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		start := time.Now()
		a, err := w.b.do(ctx, "/incr")
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && a.code == http.StatusOK:
			n, perr := strconv.Atoi(a.body)
			w.mu.Lock()
			switch {
			case perr != nil:
				l.note(fmt.Sprintf("counter answered %q", a.body))
			case n <= w.acked && l.lossOK:
				l.regressions.Add(1)
				w.lost = true
			case n <= w.acked:
				l.note(fmt.Sprintf("counter answered %d after %d was acknowledged", n, w.acked))
			}
			w.acked = max(w.acked, n)
			w.lastOK = start
			w.mu.Unlock()
			w.okN.Add(1)
			continue
		case err != nil:
			l.mu.Lock()
			l.transport++
			if l.firstErr.IsZero() {
				l.firstErr = start
			}
			l.mu.Unlock()
			if !l.transportOK {
				l.note("transport error: " + err.Error())
			}
		default:
			l.mu.Lock()
			l.codes[a.code]++
			if l.firstErr.IsZero() {
				l.firstErr = start
			}
			l.mu.Unlock()
			if a.code != http.StatusServiceUnavailable {
				l.note(fmt.Sprintf("answer %d %q", a.code, a.body))
			}
		}
		// Back off a little while the backend is down, as clients do.
		select {
		case <-l.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *faultLoad) note(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.unexpected) < 20 {
		l.unexpected = append(l.unexpected, msg)
	}
}

// acks returns the number of acknowledged requests so far.
func (l *faultLoad) acks() int64 {
	var n int64
	for _, w := range l.workers {
		n += w.okN.Load()
	}
	return n
}

// waitAcks waits until n more requests have been acknowledged.
func (l *faultLoad) waitAcks(t *testing.T, ctx context.Context, n int64) {
	t.Helper()
	target := l.acks() + n
	for l.acks() < target {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d acknowledged requests: %v (errors: %s)", n, ctx.Err(), l.summary())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitErrors waits until the load has seen at least n failed requests.
func (l *faultLoad) waitErrors(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		l.mu.Lock()
		got := l.transport
		for _, c := range l.codes {
			got += c
		}
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the fault to show: %v", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitRecovered waits until every browser has had a request that started
// after since answered 200, and returns how long after since that was.
func (l *faultLoad) waitRecovered(t *testing.T, ctx context.Context, since time.Time) time.Duration {
	t.Helper()
	for {
		done := time.Time{}
		all := true
		for _, w := range l.workers {
			w.mu.Lock()
			ok := w.lastOK
			w.mu.Unlock()
			if ok.Before(since) {
				all = false
				break
			}
			if ok.After(done) {
				done = ok
			}
		}
		if all {
			return done.Sub(since)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not every session recovered: %v (%s)", ctx.Err(), l.summary())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// halt stops the load and waits for the workers.
func (l *faultLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *faultLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("answers by status %v, transport errors %d", l.codes, l.transport)
}

// verify stops the load and checks, through base, that every session
// holds at least its highest acknowledged counter; it fails the test on
// any unexpected answer seen during the run. It returns how many
// sessions lost an acknowledged write.
func (l *faultLoad) verify(t *testing.T, base string, assertNoLoss bool) (lost int) {
	t.Helper()
	l.halt()
	for _, msg := range l.unexpected {
		t.Errorf("during the fault: %s", msg)
	}
	for i, w := range l.workers {
		w.b.base = base
		a, err := w.b.get(t.Context(), "/get")
		if err != nil || a.code != http.StatusOK {
			t.Fatalf("session %d after recovery: %v %d %q", i, err, a.code, a.body)
		}
		if got := atoi(t, a.body); got < w.acked || w.lost {
			lost++
			if assertNoLoss {
				t.Errorf("session %d holds %d, but %d was acknowledged", i, got, w.acked)
			}
		}
	}
	return lost
}
