package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Server is a database server a fault test can take down and bring back
// on the same address with the same data (internal/testenv's servers are
// such).
type Server interface {
	Kill() error                       // SIGKILL: a crash
	Stop() error                       // a clean shutdown
	Pause() error                      // SIGSTOP: a hung server
	Resume() error                     // SIGCONT
	Restart(ctx context.Context) error // start again after Kill or Stop
}

// RunFaults takes srv down three ways (crash, clean stop, hang) under s,
// which must be connected to it. While the server is down every store
// method must fail within its context deadline with an error that is not a
// store answer (ErrNotFound, ErrConflict); once it is back, the store must
// serve again without being reopened, with nothing written while it was
// down.
func RunFaults(t *testing.T, s sessionkit.Store, srv Server) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("before"), Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		name string
		down func() error
		up   func(context.Context) error
	}{
		{"kill", srv.Kill, srv.Restart},
		{"stop", srv.Stop, srv.Restart},
		{"pause", srv.Pause, func(context.Context) error { return srv.Resume() }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			if err := fault.down(); err != nil {
				t.Fatal(err)
			}
			if fault.name == "pause" {
				defer srv.Resume()
			}
			opCtx, opCancel := context.WithTimeout(ctx, time.Second)
			defer opCancel()
			start := time.Now()
			_, loadErr := s.Load(opCtx, "k")
			_, saveErr := s.Save(opCtx, "k", sessionkit.Record{Data: []byte("during"), Version: v, Expiry: exp})
			for op, err := range map[string]error{
				"Load": loadErr, "Save": saveErr, "Touch": s.Touch(opCtx, "k", exp), "Delete": s.Delete(opCtx, "k"),
			} {
				if err == nil || errors.Is(err, sessionkit.ErrNotFound) || errors.Is(err, sessionkit.ErrConflict) {
					t.Errorf("%s with the server down: error = %v, want a connection error", op, err)
				}
				t.Logf("%s with the server down: %v", op, err)
			}
			// Generous bound: the calls share one 1 s deadline.
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("calls with the server down took %v; the context deadline was not honoured", took)
			}

			if err := fault.up(ctx); err != nil {
				t.Fatal(err)
			}
			// A pool may hand out one connection that died with the
			// server; it must be replaced, not kept.
			var rec sessionkit.Record
			for attempt := 1; ; attempt++ {
				if rec, err = s.Load(ctx, "k"); err == nil {
					break
				}
				t.Logf("attempt %d after restart: %v", attempt, err)
				if attempt == 5 {
					t.Fatalf("store did not recover after the restart: %v", err)
				}
			}
			if string(rec.Data) != "before" || rec.Version != v {
				t.Fatalf("after restart: %q v%d, want %q v%d (nothing written while down)", rec.Data, rec.Version, "before", v)
			}
			if _, err := s.Save(ctx, "probe-"+fault.name, sessionkit.Record{Data: []byte("x"), Expiry: exp}); err != nil {
				t.Fatalf("Save after restart: %v", err)
			}
		})
	}
}
