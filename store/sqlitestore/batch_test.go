package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// holdWriter makes a write that stays in its statement until release is
// closed, so that writes started meanwhile queue up behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		finished <- s.w.write(context.Background(), func(ctx context.Context, db execer) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	var once sync.Once
	return func() {
		once.Do(func() {
			close(gate)
			if err := <-finished; err != nil {
				t.Errorf("holding write: %v", err)
			}
		})
	}
}

// waitQueued waits until n writes are queued.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		s.w.mu.Lock()
		got := 0
		for _, w := range s.w.q {
			if w.state.Load() == queued {
				got++
			}
		}
		s.w.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func insert(key string) func(ctx context.Context, db execer) error {
	return func(ctx context.Context, db execer) error {
		_, err := db.ExecContext(ctx, `INSERT INTO sessions (key, data, version, expiry) VALUES (?, x'00', 1, ?)`, key, time.Now().Add(time.Hour).UnixMilli())
		return err
	}
}

// TestGroupCommit checks that writes queued behind a running one are
// committed together, and that one failing write of a group fails alone.
func TestGroupCommit(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	boom := errors.New("boom")
	for _, failing := range []int{-1, 2} {
		t.Run(fmt.Sprintf("failing=%d", failing), func(t *testing.T) {
			release := holdWriter(t, s)
			const n = 5
			errs := make([]error, n)
			var group sync.WaitGroup
			for i := range n {
				fn := insert(fmt.Sprintf("f%d-%d", failing, i))
				if i == failing {
					// A write that fails after doing something: its row
					// must not stay behind.
					fn = func(ctx context.Context, db execer) error {
						if err := insert(fmt.Sprintf("f%d-%d", failing, i))(ctx, db); err != nil {
							return err
						}
						return boom
					}
				}
				group.Go(func() { errs[i] = s.w.write(t.Context(), fn) })
			}
			waitQueued(t, s, n)
			groupsBefore := s.w.groups.Load()
			release()
			group.Wait()
			for i, err := range errs {
				if want := error(nil); i == failing {
					if !errors.Is(err, boom) {
						t.Errorf("write %d: %v, want boom", i, err)
					}
				} else if err != want {
					t.Errorf("write %d: %v", i, err)
				}
			}
			for i := range n {
				var c int
				if err := s.db.QueryRow(`SELECT count(*) FROM sessions WHERE key = ?`, fmt.Sprintf("f%d-%d", failing, i)).Scan(&c); err != nil {
					t.Fatal(err)
				}
				// The failing write inserted its row before it failed:
				// neither in the group nor run again on its own may that
				// row stay.
				if want := 1; i == failing && c != 0 || i != failing && c != want {
					t.Errorf("row of write %d: %d rows", i, c)
				}
			}
			if got := s.w.groups.Load() - groupsBefore; failing < 0 && got != 1 {
				t.Errorf("%d group commits, want the 5 queued writes in 1", got)
			} else if failing >= 0 && got != 0 {
				t.Errorf("%d group commits, want the failed group rolled back", got)
			}
		})
	}
}

// TestQueuedWriteDropped checks that a write queued behind a slow one
// returns when its context ends, without running.
func TestQueuedWriteDropped(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	release := holdWriter(t, s)
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	ran := false
	errc := make(chan error, 1)
	go func() {
		errc <- s.w.write(ctx, func(ctx context.Context, db execer) error { ran = true; return nil })
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued write with a cancelled context: %v, want context.Canceled", err)
	}
	release()
	// The next write runs; the dropped one never did.
	if err := s.w.write(t.Context(), insert("after")); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the dropped write ran")
	}
}
