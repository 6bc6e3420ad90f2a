// Package sqlstoretest holds the tests and test helpers that the SQL
// stores (pgstore and mysqlstore) share. Database-specific setup (the
// connection, the server, how to count rows) stays in each store's tests
// and is passed in.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// UniqueTable returns prefix followed by 12 random hex digits, a table
// name no other test uses.
func UniqueTable(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Migrator is a store whose table a test creates. Migrate must be
// idempotent; Close must stop the store's background sweeper before it
// returns.
type Migrator interface {
	Migrate(ctx context.Context) error
	Close() error
}

// Migrate creates s's table, or fails t. When t ends, it closes s (which
// stops its sweeper before the table goes) and then calls drop, which must
// drop the table without using s.
func Migrate(t testing.TB, s Migrator, drop func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("drop table: %v", err)
		}
	})
}

// Store is what the shared tests need of a SQL store: Table must return
// the configured table name, which the store's errors quote.
type Store interface {
	sessionkit.Store
	sessionkit.Iterator
	sessionkit.Sweeper
	Table() string
}

// MissingTable checks that every operation of s, whose table does not
// exist, fails with an error that matches errNoTable and names the table
// and the fix.
func MissingTable(t *testing.T, s Store, errNoTable error) {
	t.Helper()
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	_, loadErr := s.Load(ctx, "k")
	_, saveErr := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: exp})
	_, sweepErr := s.DeleteExpired(ctx)
	var iterErr error
	for _, err := range s.All(ctx) {
		iterErr = err
	}
	for op, err := range map[string]error{
		"Load": loadErr, "Save": saveErr, "Touch": s.Touch(ctx, "k", exp), "Delete": s.Delete(ctx, "k"),
		"DeleteExpired": sweepErr, "All": iterErr,
	} {
		if !errors.Is(err, errNoTable) {
			t.Errorf("%s on a missing table: error = %v, want ErrNoTable", op, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, s.Table()) || !strings.Contains(msg, "run Migrate") {
			t.Errorf("%s error %q does not name the table and the fix", op, msg)
		}
	}
}

// OpenFails calls open (with a 20-second deadline) and checks that it
// fails with an error that contains want and does not contain "secret",
// the password of the test's connection strings. If open succeeds, the
// store it returned is closed.
func OpenFails(t *testing.T, want string, open func(ctx context.Context) (io.Closer, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := open(ctx)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q leaks the password", err)
	}
}

// RecreateAfterExpiry checks that re-creating a key whose row expired
// keeps counting its versions, so a writer holding a version of the old
// record cannot overwrite the new one. s must be empty.
func RecreateAfterExpiry(t *testing.T, s sessionkit.Store) {
	t.Helper()
	ctx := t.Context()
	v1, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("old"), Expiry: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("new"), Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 {
		t.Fatalf("re-created record got the expired record's version %d", v1)
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("stale"), Version: v1, Expiry: time.Now().Add(time.Hour)}); !errors.Is(err, sessionkit.ErrConflict) {
		t.Fatalf("Save with the expired record's version: %v, want ErrConflict", err)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil || string(rec.Data) != "new" || rec.Version != v2 {
		t.Fatalf("Load = %q v%d, %v; want \"new\" v%d", rec.Data, rec.Version, err, v2)
	}
}

// BackgroundSweep saves expired records in s, whose background sweeper
// must be running, and waits (bounded by the test's deadline) until count,
// which must count every row of s's table, reports none left.
func BackgroundSweep(t *testing.T, s sessionkit.Store, count func(ctx context.Context) (int, error)) {
	t.Helper()
	ctx := t.Context()
	for i := range 10 {
		if _, err := s.Save(ctx, "old-"+strconv.Itoa(i), sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	// No timing assertion: only the deadline bounds the wait.
	for {
		n, err := count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FaultStore is a store that ServerRestart can migrate and close. It must
// be connected to the server it was opened on, and reconnect on its own
// once that server is back (see storetest.RunFaults).
type FaultStore interface {
	sessionkit.Store
	Migrator
}

// ServerRestart starts a private server of the kind named by what (for
// messages) with start, in a temporary directory, opens a store on it with
// open, migrates it and runs storetest.RunFaults. stop releases the
// server at the end. If the server cannot start, the test is skipped (or
// fails, when backends are required). It is skipped in short mode.
func ServerRestart[S storetest.Server](t *testing.T, what string, start func(ctx context.Context, dir string) (S, error), stop func(S) error, open func(context.Context, S) (FaultStore, error)) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a private " + what + " server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := start(ctx, t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "cannot start a private "+what+" server: "+err.Error())
	}
	defer stop(srv)
	s, err := open(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.RunFaults(t, s, srv)
}

// TableNames checks that newStore refuses every table name in bad and
// accepts every name in good. newStore must not touch the database; the
// stores it returns are closed.
func TableNames(t *testing.T, newStore func(table string) (io.Closer, error), bad, good []string) {
	t.Helper()
	for _, name := range bad {
		if s, err := newStore(name); err == nil {
			s.Close()
			t.Errorf("New with table %q succeeded, want an error", name)
		}
	}
	for _, name := range good {
		s, err := newStore(name)
		if err != nil {
			t.Errorf("New with table %q: %v", name, err)
			continue
		}
		s.Close()
	}
}
