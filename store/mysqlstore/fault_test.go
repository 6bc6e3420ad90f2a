package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// TestServerRestart kills, stops and freezes a private server under a
// working store: calls fail with errors (not store answers) by their
// deadline, and once the server is back the same store works again
// without being reopened.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private MariaDB server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartMySQL(ctx, t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "cannot start a private MariaDB server: "+err.Error())
	}
	defer srv.Stop()

	s, err := mysqlstore.Open(ctx, srv.DSN(), mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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

			if err := fault.up(ctx); err != nil {
				t.Fatal(err)
			}
			// The pool may hand out one connection that died with the
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
