package mongostore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// TestServerStopped kills a private FerretDB under a store: every
// operation must fail with a transport or context error (never a store
// answer such as ErrNotFound) once its context ends, and the store must
// work again, with its data, once the server is back.
func TestServerStopped(t *testing.T) {
	// The runner exports the variable once it has built the server binary.
	testenv.Getenv(t, testenv.MongoURLEnv)
	ctx := t.Context()
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	srv, err := testenv.StartMongo(startCtx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill() })

	s, err := Open(startCtx, srv.URL+"faults", Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("kept"), Expiry: exp, UserKey: "u"})
	if err != nil {
		t.Fatal(err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	const opTimeout = 2 * time.Second
	ops := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, "k"); return err }},
		{"Save new", func(ctx context.Context) error {
			_, err := s.Save(ctx, "other", sessionkit.Record{Data: []byte("x"), Expiry: exp})
			return err
		}},
		{"Save update", func(ctx context.Context) error {
			_, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("lost"), Version: v, Expiry: exp})
			return err
		}},
		{"Touch", func(ctx context.Context) error { return s.Touch(ctx, "k", exp) }},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "k") }},
		{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, "u"); return err }},
		{"DeleteUserSessions", func(ctx context.Context) error { _, err := s.DeleteUserSessions(ctx, "u"); return err }},
		{"DeleteExpired", func(ctx context.Context) error { _, err := s.DeleteExpired(ctx); return err }},
		{"All", func(ctx context.Context) error {
			for _, err := range s.All(ctx) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, op := range ops {
		t.Run("down/"+op.name, func(t *testing.T) {
			opCtx, cancel := context.WithTimeout(ctx, opTimeout)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- op.fn(opCtx) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(opTimeout + 30*time.Second): // a hang, not a slow answer
				t.Fatalf("%s did not return after its context ended", op.name)
			}
			if err == nil {
				t.Fatalf("%s succeeded with the server down", op.name)
			}
			if errors.Is(err, sessionkit.ErrNotFound) || errors.Is(err, sessionkit.ErrConflict) {
				t.Fatalf("%s with the server down: %v; want a transport error, not a store answer", op.name, err)
			}
			if !errors.Is(err, context.DeadlineExceeded) && !mongo.IsTimeout(err) && !mongo.IsNetworkError(err) {
				t.Fatalf("%s with the server down: %v; want a timeout or network error", op.name, err)
			}
		})
	}

	if err := srv.Restart(startCtx); err != nil {
		t.Fatal(err)
	}
	// The driver reconnects on its own; wait for the first success.
	var rec sessionkit.Record
	deadline := time.Now().Add(time.Minute)
	for {
		opCtx, cancel := context.WithTimeout(ctx, opTimeout)
		rec, err = s.Load(opCtx, "k")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Load after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Equal(rec.Data, []byte("kept")) || rec.Version != v {
		t.Fatalf("after restart: data %q version %d; want %q %d", rec.Data, rec.Version, "kept", v)
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("after"), Version: v, Expiry: exp}); err != nil {
		t.Fatalf("Save after restart: %v", err)
	}
}
