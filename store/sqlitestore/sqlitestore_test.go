package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/store/storetest"
)

func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "sessions.db"), opts...)
}

func openAt(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestLifetime runs the client-side lifetime journeys.
func TestLifetime(t *testing.T) {
	storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
		return sessionkit.New(openTemp(t))
	})
}

func TestConformance(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			return openTemp(t)
		})
	})
	// A sweeper running all the time must not disturb anything.
	t.Run("BusySweeper", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			return openTemp(t, WithSweepInterval(5*time.Millisecond))
		})
	})
	// Stores on one file under different tables, and each test's store
	// opened twice (two pools on one file, as two processes would have):
	// writes go through one, reads through the other.
	t.Run("SharedFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shared.db")
		n := 0
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			n++
			table := fmt.Sprintf("sessions_%d", n)
			w := openAt(t, path, WithTable(table), WithSweepInterval(0))
			r := openAt(t, path, WithTable(table), WithSweepInterval(0))
			return splitStore{Store: w, reader: r}
		})
	})
	t.Run("SynchronousNormal", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			return openTemp(t, WithSynchronous(SynchronousNormal))
		})
	})
}

// splitStore writes through one Store and reads through another on the
// same file.
type splitStore struct {
	*Store
	reader *Store
}

func (s splitStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	return s.reader.Load(ctx, key)
}

func (s splitStore) UserSessions(ctx context.Context, user string) ([]sessionkit.Entry, error) {
	return s.reader.UserSessions(ctx, user)
}

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func countRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM `+quote(s.table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestExpiryBoundaries(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(0))
	ctx := t.Context()
	now := clk.Now()
	recs := []struct {
		key    string
		expiry time.Time
		user   string
	}{
		{"c", now.Add(3 * time.Minute), "u1"},
		{"a", now.Add(1 * time.Minute), "u1"},
		{"d", now.Add(10 * time.Minute), ""},
		{"b", now.Add(2 * time.Minute), "u2"},
		{"z", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "u2"}, // negative Unix milliseconds
	}
	for _, r := range recs {
		if _, err := s.Save(ctx, r.key, sessionkit.Record{Data: []byte(r.key), Expiry: r.expiry, UserKey: r.user}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance     time.Duration
		wantRemoved int
		wantLive    []string
	}{
		{0, 1, []string{"a", "b", "c", "d"}},
		{time.Minute - time.Millisecond, 0, []string{"a", "b", "c", "d"}},
		{time.Millisecond, 1, []string{"b", "c", "d"}}, // exactly at a's expiry: gone
		{2 * time.Minute, 2, []string{"d"}},
		{time.Hour, 1, nil},
	}
	for i, st := range steps {
		clk.Add(st.advance)
		var live []string
		for _, k := range []string{"a", "b", "c", "d", "z"} {
			_, err := s.Load(ctx, k)
			switch {
			case err == nil:
				live = append(live, k)
			case !errors.Is(err, sessionkit.ErrNotFound):
				t.Fatalf("step %d: Load(%s): %v", i, k, err)
			}
		}
		if !slices.Equal(live, st.wantLive) {
			t.Fatalf("step %d: live before sweep = %v, want %v", i, live, st.wantLive)
		}
		n, err := s.DeleteExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != st.wantRemoved {
			t.Errorf("step %d: DeleteExpired = %d, want %d", i, n, st.wantRemoved)
		}
		if got := countRows(t, s); got != len(st.wantLive) {
			t.Errorf("step %d: %d rows remain, want %d", i, got, len(st.wantLive))
		}
	}
}

func TestSweepInBatches(t *testing.T) {
	clk := newClock()
	s := openTemp(t, WithClock(clk.Now), WithSweepInterval(0))
	ctx := t.Context()
	const n = 2*sweepBatch + 17
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (key, data, version, expiry) VALUES (?, x'00', 1, ?)`, fmt.Sprintf("k%05d", i), clk.Now().UnixMilli()+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if got, err := s.DeleteExpired(ctx); err != nil || got != n {
		t.Fatalf("DeleteExpired = %d, %v; want %d", got, err, n)
	}
	if got := countRows(t, s); got != 0 {
		t.Fatalf("%d rows left", got)
	}
}

func TestRecreateAfterExpiry(t *testing.T) {
	sqlstoretest.RecreateAfterExpiry(t, openTemp(t, WithSweepInterval(0)))
}

func TestBackgroundSweep(t *testing.T) {
	s := openTemp(t, WithSweepInterval(time.Millisecond))
	sqlstoretest.BackgroundSweep(t, s, func(ctx context.Context) (int, error) {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n)
		return n, err
	})
}

func TestMissingTable(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	if _, err := s.db.ExecContext(t.Context(), `DROP TABLE sessions`); err != nil {
		t.Fatal(err)
	}
	sqlstoretest.MissingTable(t, s, ErrNoTable)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(t.Context(), "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Save after Migrate: %v", err)
	}
}

func TestUserKeysThatPrefixEachOther(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	users := []string{"a", "ab", "a\x00b", "\x01a", "b", "é", strings.Repeat("u", 200)}
	for i, u := range users {
		for j := range 2 {
			key := fmt.Sprintf("s%d-%d", i, j)
			if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(u), Expiry: exp, UserKey: u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, u := range users {
		entries, err := s.UserSessions(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range entries {
			keys = append(keys, e.Key)
			if e.Record.UserKey != u {
				t.Errorf("UserSessions(%q) entry has user %q", u, e.Record.UserKey)
			}
		}
		slices.Sort(keys)
		if want := []string{fmt.Sprintf("s%d-0", i), fmt.Sprintf("s%d-1", i)}; !slices.Equal(keys, want) {
			t.Errorf("UserSessions(%q) = %v, want %v", u, keys, want)
		}
	}
	n, err := s.DeleteUserSessions(ctx, "a")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions(a) = %d, %v; want 2", n, err)
	}
	for _, u := range users[1:] {
		if entries, _ := s.UserSessions(ctx, u); len(entries) != 2 {
			t.Errorf("deleting user a touched user %q: %d sessions left", u, len(entries))
		}
	}
}

func TestAllPagesAndYieldMayWrite(t *testing.T) {
	s := openTemp(t, WithSweepInterval(0))
	ctx := t.Context()
	const n = 3*pageSize + 7
	var want []string
	for i := range n {
		key := fmt.Sprintf("k%05d", i)
		exp := time.Now().Add(time.Hour)
		if i%10 == 0 {
			exp = time.Now().Add(-time.Hour) // expired: never yielded
		} else {
			want = append(want, key)
		}
		if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(key), Expiry: exp}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	deleted := 0
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Record.Data) != e.Key {
			t.Fatalf("entry %q has data %q", e.Key, e.Record.Data)
		}
		got = append(got, e.Key)
		// yield runs between queries, so it may write.
		if len(got)%100 == 1 {
			if err := s.Delete(ctx, e.Key); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("All yielded %d keys, want %d in key order", len(got), len(want))
	}
	if got := countRows(t, s); got != n-deleted {
		t.Fatalf("%d rows left, want %d", got, n-deleted)
	}
}

func TestOpenCreatesFileWithMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a", "b", "sessions.db")
			s, err := Open(path, WithSweepInterval(0), WithFileMode(mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(t.Context(), "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			// While the store is open, the -wal and -shm files exist and
			// must have the file's mode too.
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if perm := fi.Mode().Perm(); perm != mode {
					t.Errorf("%s: mode %v, want %v", filepath.Base(p), perm, mode)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o700 {
				t.Errorf("directory mode %v, want 0700", perm)
			}
			// Reopening keeps the data.
			s = openAt(t, path, WithSweepInterval(0))
			if rec, err := s.Load(t.Context(), "k"); err != nil || string(rec.Data) != "x" {
				t.Fatalf("Load after reopen = %q, %v", rec.Data, err)
			}
		})
	}
}

func TestOpenPathsWithSpecialCharacters(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"with space.db", "q?mark.db", "hash#.db", "per%25cent.db", "mode=ro.db"} {
		path := filepath.Join(dir, name)
		s := openAt(t, path, WithSweepInterval(0))
		if _, err := s.Save(t.Context(), "k", sessionkit.Record{Data: []byte(name), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the database is not at the path given: %v", name, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		n = strings.TrimSuffix(strings.TrimSuffix(n, "-wal"), "-shm")
		if !slices.Contains([]string{"with space.db", "q?mark.db", "hash#.db", "per%25cent.db", "mode=ro.db"}, n) {
			t.Errorf("unexpected file %q in the directory", e.Name())
		}
	}
}

func TestOpenErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not-a-db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("garbage!", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, notDB} {
		_, err := Open(path, WithSweepInterval(0))
		if err == nil {
			t.Fatalf("Open(%s) succeeded", path)
		}
		if !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "sqlitestore: open ") {
			t.Errorf("Open(%s) error %q does not name the file", path, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "x.db"), WithTable("bad-name")); err == nil || !strings.Contains(err.Error(), "invalid table name") {
		t.Errorf("Open with a bad table name: %v", err)
	}
}

func TestCloseStopsSweeper(t *testing.T) {
	clk := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), WithClock(clk.Now), WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(t.Context(), "k"); err == nil {
		t.Fatal("Load after Close succeeded")
	}
}
