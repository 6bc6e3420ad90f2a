package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// withParam adds name=value to a URL's query.
func withParam(rawURL, name, value string) string {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + name + "=" + url.QueryEscape(value)
}

// redisURL returns the test Redis URL with a fresh key prefix, and a store
// on it whose keys are removed when the test ends.
func redisURL(t *testing.T) (string, *redisstore.Store) {
	t.Helper()
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	prefix := uniqueName("skcli") + ":"
	u := withParam(base, "prefix", prefix)
	s, err := redisstore.NewFromURL(context.Background(), base, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c := s.Client()
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
			if len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
		s.Close()
	})
	return u, s
}

// postgresURL returns the test PostgreSQL URL with a fresh, empty table,
// and a store on it; the table is dropped when the test ends.
func postgresURL(t *testing.T) (string, *pgstore.Store) {
	t.Helper()
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := uniqueName("skcli_")
	s, err := pgstore.Open(context.Background(), base, pgstore.Options{Table: table, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DropTable(context.Background()); err != nil {
			t.Error(err)
		}
		s.Close()
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return withParam(base, "table", table), s
}

func TestRedisCommands(t *testing.T) {
	u, s := redisURL(t)
	ctx := context.Background()
	now := time.Now()
	fx := fixture(now)
	for _, ss := range fx[:5] {
		if _, err := s.Save(ctx, ss.key(), ss.record(t)); err != nil {
			t.Fatal(err)
		}
	}
	store := "--store=" + u
	alice := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json", "--user", "alice"))
	if len(alice.Sessions) != 2 {
		t.Errorf("list --user alice: %+v", alice)
	}
	all := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json"))
	if len(all.Sessions) != 5 {
		t.Errorf("list: %d sessions, want 5", len(all.Sessions))
	}
	r := mustRun(t, 0, "show", store, fx[2].id)
	if !strings.Contains(r.stdout, `"theme": "dark"`) {
		t.Errorf("show:\n%s", r.stdout)
	}
	mustRun(t, 0, "revoke", store, "--user", "alice")
	mustRun(t, 3, "show", store, fx[0].id)
	r = mustRun(t, 0, "purge", store)
	if !strings.Contains(r.stdout, "nothing to purge") {
		t.Errorf("purge on Redis: %s", r.stdout)
	}
	r = mustRun(t, 0, "doctor", u)
	for _, want := range []string{"OK  server", "Redis", "OK  clock", "OK  write"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPostgresDoctor(t *testing.T) {
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := uniqueName("skdoc_")
	u := withParam(base, "table", table)
	t.Cleanup(func() {
		s, err := pgstore.Open(context.Background(), base, pgstore.Options{Table: table, CleanupInterval: -1})
		if err == nil {
			s.DropTable(context.Background())
			s.Close()
		}
	})
	r := mustRun(t, 1, "doctor", u)
	if !strings.Contains(r.stdout, "FAIL  schema") || !strings.Contains(r.stdout, "does not exist") {
		t.Errorf("doctor without a table:\n%s", r.stdout)
	}
	// Commands other than migrate do not create the table.
	r = mustRun(t, 1, "stats", "--store", u)
	if !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("stats without a table: %s", r.stderr)
	}
	r = mustRun(t, 0, "doctor", u, "--fix")
	for _, want := range []string{"OK  fix", "OK  schema", "_expiry_idx", "OK  write"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor --fix lacks %q:\n%s", want, r.stdout)
		}
	}
	mustRun(t, 0, "doctor", u)
}

// TestPostgresDoctorConnectLayout: a connect-pg-simple table as its docs
// create it (an expiry index, no user index) is set up, not a warning.
func TestPostgresDoctorConnectLayout(t *testing.T) {
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := uniqueName("skdoc_")
	u := withParam(withParam(base, "table", table), "layout", "connect-pg-simple")
	t.Cleanup(func() {
		s, err := pgstore.Open(context.Background(), base, pgstore.Options{Table: table, Layout: pgstore.LayoutConnectPgSimple, CleanupInterval: -1})
		if err == nil {
			s.DropTable(context.Background())
			s.Close()
		}
	})
	r := mustRun(t, 0, "doctor", u, "--fix")
	if !strings.Contains(r.stdout, "created table "+table) {
		t.Errorf("doctor --fix:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "doctor", u)
	if !strings.Contains(r.stdout, "OK  schema") || !strings.Contains(r.stdout, "IDX_"+table+"_expire") {
		t.Errorf("doctor on a connect-pg-simple table:\n%s", r.stdout)
	}
}

// TestMigrateRedisToPostgres copies 100,000 sessions and checks every key's
// data, expiry and user on the target.
func TestMigrateRedisToPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("100k sessions; skipped with -short")
	}
	from, src := redisURL(t)
	to, dst := postgresURL(t)
	ctx := context.Background()

	const n = 100_000
	now := time.Now().Truncate(time.Millisecond)
	want := make(map[string]sessionkit.Record, n)
	users := map[string]int{}
	keys := make([]string, n)
	for i := range n {
		key := fmt.Sprintf("k%06d-%s", i, strings.Repeat("x", 30))
		rec := sessionkit.Record{
			Data:   []byte(fmt.Sprintf(`{"created":%d,"active":%d,"values":{"i":%d}}`, now.UnixMilli(), now.UnixMilli(), i)),
			Expiry: now.Add(time.Hour + time.Duration(i)*time.Millisecond),
		}
		if i%3 == 0 {
			rec.UserKey = fmt.Sprintf("user%d", i%500)
			users[rec.UserKey]++
		}
		keys[i] = key
		want[key] = rec
	}

	// Seed through the store's own Save from parallel goroutines.
	start := time.Now()
	const seeders = 32
	var wg sync.WaitGroup
	errs := make(chan error, seeders)
	for w := range seeders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += seeders {
				if _, err := src.Save(ctx, keys[i], want[keys[i]]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("seeded %d sessions in Redis in %s", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r := mustRun(t, 0, "migrate", "--from", from, "--to", to, "--progress", "--json")
	t.Logf("migrated in %s", time.Since(start).Round(time.Millisecond))
	sum := decodeJSON[struct {
		Copied         int64 `json:"copied"`
		AlreadyPresent int64 `json:"already_present"`
		Expired        int64 `json:"expired"`
	}](t, r)
	if sum.Copied != n || sum.AlreadyPresent != 0 || sum.Expired != 0 {
		t.Errorf("summary %+v, want %d copied", sum, n)
	}
	if !strings.Contains(r.stderr, "migrating") || !strings.Contains(r.stderr, fmt.Sprint(n)) {
		t.Errorf("no progress bar on stderr: %q", lastLine(r.stderr))
	}

	got := 0
	for e, err := range dst.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got++
		w, ok := want[e.Key]
		switch {
		case !ok:
			t.Fatalf("unexpected key %q on the target", e.Key)
		case !bytes.Equal(e.Record.Data, w.Data):
			t.Fatalf("%s: data %q, want %q", e.Key, e.Record.Data, w.Data)
		case !e.Record.Expiry.Equal(w.Expiry):
			t.Fatalf("%s: expiry %s, want %s", e.Key, e.Record.Expiry, w.Expiry)
		case e.Record.UserKey != w.UserKey:
			t.Fatalf("%s: user %q, want %q", e.Key, e.Record.UserKey, w.UserKey)
		}
	}
	if got != n {
		t.Fatalf("target has %d sessions, want %d", got, n)
	}
	for _, u := range []string{"user0", "user499"} {
		entries, err := dst.UserSessions(ctx, u)
		if err != nil || len(entries) != users[u] {
			t.Errorf("target's index for %s: %d sessions (%v), want %d", u, len(entries), err, users[u])
		}
	}

}

// TestMigrateResumes runs a migration onto a target that already holds
// some of the sessions: those are left as they are and counted.
func TestMigrateResumes(t *testing.T) {
	from, src := redisURL(t)
	to, dst := postgresURL(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	for i := range 50 {
		rec := sessionkit.Record{Data: []byte(fmt.Sprintf("source %d", i)), Expiry: now.Add(time.Hour), UserKey: "u"}
		if _, err := src.Save(ctx, fmt.Sprint("key", i), rec); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			rec.Data = []byte("already on the target")
			if _, err := dst.Save(ctx, fmt.Sprint("key", i), rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := mustRun(t, 0, "migrate", "--from", from, "--to", to)
	for _, want := range []string{"copied", "40", "already present (left as is)", "10"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	for i := range 50 {
		rec, err := dst.Load(ctx, fmt.Sprint("key", i))
		want := fmt.Sprintf("source %d", i)
		if i%5 == 0 {
			want = "already on the target"
		}
		if err != nil || string(rec.Data) != want {
			t.Errorf("key%d on the target: %q, %v; want %q", i, rec.Data, err, want)
		}
	}
	r = mustRun(t, 0, "migrate", "--from", from, "--to", to, "--dry-run", "--json")
	if !strings.Contains(r.stdout, `"copied": 0`) || !strings.Contains(r.stdout, `"already_present": 50`) {
		t.Errorf("dry run after the migration:\n%s", r.stdout)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n\r")
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
