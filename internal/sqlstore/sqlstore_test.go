package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

var errNoTable = errors.New("teststore: table does not exist")

// driverError stands in for a driver's error type.
type driverError struct{ code int }

func (e *driverError) Error() string { return fmt.Sprintf("driver error %d", e.code) }

func newCore(batch, pageSize int) *Core {
	return New(Config{
		Name:       "teststore",
		Table:      "app.sessions",
		ErrNoTable: errNoTable,
		MissingTable: func(err error) (string, error) {
			var d *driverError
			if errors.As(err, &d) && d.code == 1146 {
				return "no such table", d
			}
			return "", nil
		},
		Batch:           batch,
		PageSize:        pageSize,
		DefaultBatch:    10,
		DefaultPageSize: 20,
	})
}

func TestDefaults(t *testing.T) {
	c := newCore(0, -1)
	if c.Batch() != 10 || c.PageSize() != 20 || c.logger == nil {
		t.Errorf("batch %d, page size %d, logger %v; want the defaults", c.Batch(), c.PageSize(), c.logger)
	}
	c = newCore(3, 4)
	if c.Batch() != 3 || c.PageSize() != 4 {
		t.Errorf("batch %d, page size %d; want 3, 4", c.Batch(), c.PageSize())
	}
	c.StartSweeper(-1, 1, nil) // disabled: starts nothing
	if err := c.Close(nil); err != nil {
		t.Fatal(err)
	}
}

func TestWrap(t *testing.T) {
	c := newCore(0, 0)
	missing := fmt.Errorf("query: %w", &driverError{1146})
	err := c.Wrap("load", "k", missing)
	if !errors.Is(err, errNoTable) {
		t.Errorf("%v does not match ErrNoTable", err)
	}
	var d *driverError
	if !errors.As(err, &d) || d.code != 1146 {
		t.Errorf("%v does not unwrap to the driver's error", err)
	}
	if want := `teststore: load: table "app.sessions" does not exist: run Migrate (no such table)`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	other := &driverError{1062}
	for key, want := range map[string]string{"k": `teststore: save "k": driver error 1062`, "": `teststore: save: driver error 1062`} {
		err := c.Wrap("save", key, other)
		if err.Error() != want || errors.Is(err, errNoTable) || !errors.Is(err, other) {
			t.Errorf("Wrap(%q) = %v, want %q wrapping the driver's error", key, err, want)
		}
	}
}

func TestLoaded(t *testing.T) {
	c := newCore(0, 0)
	if _, err := c.Loaded("k", sessionkit.Record{}, fmt.Errorf("scan: %w", sql.ErrNoRows)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("no rows: %v, want ErrNotFound", err)
	}
	if _, err := c.Loaded("k", sessionkit.Record{}, &driverError{1}); err == nil || !strings.Contains(err.Error(), `load "k"`) {
		t.Errorf("error: %v, want it wrapped", err)
	}
	rec, err := c.Loaded("k", sessionkit.Record{Version: 3}, nil)
	if err != nil || rec.Data == nil || rec.Version != 3 {
		t.Errorf("Loaded = %+v, %v; want empty non-nil data, version 3", rec, err)
	}
}

// fakeRows yields n rows.
type fakeRows struct {
	n, i int
	err  error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= r.n }
func (r *fakeRows) Err() error { return r.err }

func TestCollect(t *testing.T) {
	rows := &fakeRows{n: 3}
	entries, err := Collect(rows, func(e *sessionkit.Entry) error {
		e.Key = fmt.Sprint(rows.i)
		return nil
	})
	if err != nil || len(entries) != 3 || entries[2].Key != "3" || entries[0].Record.Data == nil {
		t.Errorf("Collect = %+v, %v", entries, err)
	}
	entries, err = Collect(&fakeRows{}, func(*sessionkit.Entry) error { return nil })
	if err != nil || entries == nil || len(entries) != 0 {
		t.Errorf("Collect of no rows = %#v, %v; want an empty slice", entries, err)
	}
	boom := errors.New("boom")
	if _, err := Collect(&fakeRows{n: 2}, func(*sessionkit.Entry) error { return boom }); err != boom {
		t.Errorf("scan error: %v", err)
	}
	if _, err := Collect(&fakeRows{n: 1, err: boom}, func(*sessionkit.Entry) error { return nil }); err != boom {
		t.Errorf("rows error: %v", err)
	}
}

func TestAll(t *testing.T) {
	c := newCore(0, 2)
	keys := []string{"a", "b", "c", "d"}
	var calls []string
	page := func(_ context.Context, after string, first bool, limit int) ([]sessionkit.Entry, error) {
		calls = append(calls, fmt.Sprintf("%q %v %d", after, first, limit))
		var out []sessionkit.Entry
		for _, k := range keys {
			if (first || k > after) && len(out) < limit {
				out = append(out, sessionkit.Entry{Key: k})
			}
		}
		return out, nil
	}
	var got []string
	for e, err := range c.All(t.Context(), page) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Key)
	}
	if strings.Join(got, ",") != "a,b,c,d" {
		t.Errorf("All yielded %v", got)
	}
	// A full last page costs one more, empty, query.
	if want := `"" true 2|"b" false 2|"d" false 2`; strings.Join(calls, "|") != want {
		t.Errorf("page calls %q, want %q", strings.Join(calls, "|"), want)
	}

	// Stopping early stops querying.
	calls = nil
	for range c.All(t.Context(), page) {
		break
	}
	if len(calls) != 1 {
		t.Errorf("%d page calls after a break, want 1", len(calls))
	}

	failing := func(context.Context, string, bool, int) ([]sessionkit.Entry, error) {
		return nil, &driverError{1146}
	}
	for _, err := range c.All(t.Context(), failing) {
		if !errors.Is(err, errNoTable) || !strings.Contains(err.Error(), "iterate") {
			t.Errorf("error %v, want a wrapped missing table", err)
		}
	}
}

func TestDeleteExpired(t *testing.T) {
	c := newCore(3, 0)
	left := 7
	var limits []int
	n, err := c.DeleteExpired(t.Context(), func(_ context.Context, limit int) (int64, error) {
		limits = append(limits, limit)
		d := min(left, limit)
		left -= d
		return int64(d), nil
	})
	if n != 7 || err != nil || len(limits) != 3 || limits[0] != 3 {
		t.Errorf("DeleteExpired = %d, %v after calls with limits %v; want 7 in 3 calls of 3", n, err, limits)
	}

	calls := 0
	n, err = c.DeleteExpired(t.Context(), func(context.Context, int) (int64, error) {
		calls++
		if calls == 2 {
			return 0, &driverError{5}
		}
		return 3, nil
	})
	if n != 3 || err == nil || !strings.Contains(err.Error(), "teststore: delete expired: driver error 5") {
		t.Errorf("DeleteExpired = %d, %v; want 3 and the wrapped error", n, err)
	}
}

func TestUserIndex(t *testing.T) {
	c := newCore(0, 0)
	called := false
	entries, err := c.UserSessions(t.Context(), "", func(context.Context) ([]sessionkit.Entry, error) {
		called = true
		return nil, nil
	})
	if err != nil || entries == nil || len(entries) != 0 || called {
		t.Errorf("UserSessions(\"\") = %#v, %v (query called: %v); want an empty slice without a query", entries, err, called)
	}
	n, err := c.DeleteUserSessions(t.Context(), "", func(context.Context) (int, error) {
		called = true
		return 1, nil
	})
	if err != nil || n != 0 || called {
		t.Errorf("DeleteUserSessions(\"\") = %d, %v (called: %v); want 0 without a query", n, err, called)
	}

	_, err = c.UserSessions(t.Context(), "u", func(context.Context) ([]sessionkit.Entry, error) {
		return nil, &driverError{2}
	})
	if err == nil || err.Error() != `teststore: user sessions "u": driver error 2` {
		t.Errorf("UserSessions error %v", err)
	}
	n, err = c.DeleteUserSessions(t.Context(), "u", func(context.Context) (int, error) {
		return 2, &driverError{3}
	})
	if n != 2 || err == nil || err.Error() != `teststore: delete user sessions "u": driver error 3` {
		t.Errorf("DeleteUserSessions = %d, %v; want the partial count and the wrapped error", n, err)
	}
}

func TestCloseOnce(t *testing.T) {
	c := newCore(0, 0)
	swept := make(chan struct{}, 1)
	c.StartSweeper(1, 0, func(context.Context) (int, error) {
		select {
		case swept <- struct{}{}:
		default:
		}
		return 0, nil
	})
	<-swept
	closes := 0
	closeErr := errors.New("close")
	closeConn := func() error { closes++; return closeErr }
	if err := c.Close(closeConn); err != closeErr {
		t.Errorf("Close = %v, want the connection's error", err)
	}
	if err := c.Close(closeConn); err != nil || closes != 1 {
		t.Errorf("second Close = %v after %d closes; want nil, 1", err, closes)
	}
}
