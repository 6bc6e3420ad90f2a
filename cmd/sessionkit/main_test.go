package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// binary is the sessionkit command built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionkit-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionkit")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sessionkit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args and no SESSIONKIT_STORE unless env sets it.
func cli(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONKIT_STORE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run sessionkit %q: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustRun runs the binary and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := cli(t, nil, args...)
	if r.code != want {
		t.Fatalf("sessionkit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, r.stdout)
	}
	return v
}

// session describes a record to seed.
type session struct {
	id      string
	user    string
	created time.Time
	expiry  time.Time
	values  map[string]any
}

func (s session) key() string { return sessionkit.New(nil).KeyOf(s.id) }

func (s session) record(t testing.TB) sessionkit.Record {
	t.Helper()
	st := sessionkit.State{Created: s.created, LastActive: s.created, Persistent: true}
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		// As written by an application that does not escape for HTML.
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s.values[k]); err != nil {
			t.Fatal(err)
		}
		st.Values = append(st.Values, sessionkit.Value{Key: k, JSON: bytes.TrimSuffix(raw.Bytes(), []byte("\n"))})
	}
	data, err := sessionkit.JSONCodec{}.Encode(&st)
	if err != nil {
		t.Fatal(err)
	}
	return sessionkit.Record{Data: data, Expiry: s.expiry, UserKey: s.user}
}

// seedBolt writes sessions into a new bolt file and closes it, so the
// binary can open it.
func seedBolt(t *testing.T, path string, sessions []session) {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ss := range sessions {
		if _, err := s.Save(context.Background(), ss.key(), ss.record(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// readBolt returns every record in a bolt file, expired ones included
// only if they were not yet swept and are live (the store hides the rest).
func readBolt(t *testing.T, path string) map[string]sessionkit.Record {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]sessionkit.Record{}
	for e, err := range s.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out[e.Key] = e.Record
	}
	return out
}

func fixture(now time.Time) []session {
	return []session{
		{id: "id-alice-1", user: "alice", created: now.Add(-30 * time.Minute), expiry: now.Add(2 * time.Hour), values: map[string]any{"n": 1, "cart": []string{"apple"}}},
		{id: "id-alice-2", user: "alice", created: now.Add(-3 * time.Hour), expiry: now.Add(time.Hour), values: map[string]any{"n": 2}},
		{id: "id-bob-1", user: "bob", created: now.Add(-48 * time.Hour), expiry: now.Add(time.Hour), values: map[string]any{"theme": "dark"}},
		{id: "id-anon-1", created: now.Add(-10 * 24 * time.Hour), expiry: now.Add(time.Hour), values: map[string]any{"flash": "hi"}},
		{id: "id-anon-2", created: now.Add(-40 * 24 * time.Hour), expiry: now.Add(time.Hour), values: map[string]any{}},
		{id: "id-expired", user: "carol", created: now.Add(-time.Hour), expiry: now.Add(-time.Minute), values: map[string]any{"old": true}},
	}
}

func TestHelp(t *testing.T) {
	r := mustRun(t, 0, "--help")
	for _, want := range []string{"Exit codes", "migrate", "doctor", "bolt://", "sqlite://"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, sub := range []string{"stats", "list", "show", "revoke", "purge", "migrate", "doctor"} {
		r := mustRun(t, 0, sub, "--help")
		if !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%s --help has no examples:\n%s", sub, r.stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	seedBolt(t, db, nil)
	store := "--store=bolt://" + db
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"list", "--frob"}, "unknown flag: --frob"},
		{"no store", []string{"stats"}, "no store: give --store URL or set SESSIONKIT_STORE"},
		{"unknown scheme", []string{"stats", "--store", "ftp://x"}, `unknown scheme "ftp"`},
		{"no scheme", []string{"stats", "--store", "sessions.db"}, "no scheme"},
		{"bolt without path", []string{"stats", "--store", "bolt://"}, "no file path"},
		{"bolt unknown option", []string{"stats", "--store", "bolt://" + db + "?colour=red"}, `unknown option "colour"`},
		{"memory with host", []string{"stats", "--store", "memory://somewhere"}, "memory:// takes no host or path"},
		{"redis bad port", []string{"stats", "--store", "redis://127.0.0.1:99999"}, "bad port"},
		{"redis unknown option", []string{"stats", "--store", "redis://127.0.0.1?colour=red"}, `unknown option "colour"`},
		{"redis bad prefix", []string{"stats", "--store", "redis://127.0.0.1?prefix=a{b}"}, "must not contain"},
		{"postgres bad table", []string{"stats", "--store", "postgres://u@127.0.0.1/db?table=1-bad"}, "invalid table name"},
		{"bad duration", []string{"stats", "--store", "bolt://" + db + "?sweep_interval=soon"}, "sweep_interval"},
		{"stats with argument", []string{"stats", store, "extra"}, "stats takes no arguments"},
		{"show without argument", []string{"show", store}, "show takes one session ID or store key"},
		{"show two arguments", []string{"show", store, "a", "b"}, "got 2 arguments"},
		{"revoke nothing", []string{"revoke", store}, "revoke takes one session ID or key, or --user"},
		{"revoke both", []string{"revoke", store, "abc", "--user", "alice"}, "not both"},
		{"revoke empty user", []string{"revoke", store, "--user", ""}, "--user needs a user key"},
		{"list negative limit", []string{"list", store, "--limit", "-1"}, "--limit must not be negative"},
		{"list bad limit", []string{"list", store, "--limit", "many"}, "invalid argument"},
		{"stats negative top", []string{"stats", store, "--top", "-3"}, "--top must not be negative"},
		{"zero timeout", []string{"stats", store, "--timeout", "0s"}, "--timeout must be positive"},
		{"migrate without from", []string{"migrate", "--to", "bolt://" + db}, "migrate needs --from"},
		{"migrate without to", []string{"migrate", "--from", "bolt://" + db}, "migrate needs --to"},
		{"migrate bad to", []string{"migrate", "--from", "bolt://" + db, "--to", "mongo://x"}, `--to: storeurl: store URL "mongo://x": unknown scheme`},
		{"migrate zero workers", []string{"migrate", "--from", "bolt://" + db, "--to", "memory://", "--workers", "0"}, "--workers must be at least 1"},
		{"doctor without URL", []string{"doctor"}, "doctor needs a store URL"},
		{"doctor two URLs", []string{"doctor", "memory://", "memory://"}, "at most one store URL"},
		{"doctor bad URL", []string{"doctor", "mysql://u:pw@host:notaport/db"}, "mysql URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("stderr does not point to --help:\n%s", r.stderr)
			}
		})
	}
}

func TestStoreFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	seedBolt(t, db, fixture(now))
	r := cli(t, []string{"SESSIONKIT_STORE=bolt://" + db}, "stats", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := decodeJSON[map[string]any](t, r)["sessions"]; got != float64(5) {
		t.Errorf("sessions = %v, want 5", got)
	}
}

func TestBoltStats(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	seedBolt(t, db, fixture(now))
	store := "--store=bolt://" + db

	type stats struct {
		Sessions, WithUser, Users, Undecodable int
		Bytes                                  int64
		ByAge                                  []struct {
			Age      string
			Sessions int
		} `json:"by_age"`
		TopUsers []struct {
			User     string
			Sessions int
		} `json:"top_users"`
	}
	s := decodeJSON[stats](t, mustRun(t, 0, "stats", store, "--json"))
	if s.Sessions != 5 || s.Users != 2 || s.Undecodable != 0 || s.Bytes <= 0 {
		t.Errorf("stats = %+v, want 5 sessions of 2 users", s)
	}
	wantAge := []int{1, 1, 1, 1, 1} // <1h, 1h-1d, 1d-7d, 7d-30d, >=30d
	for i, b := range s.ByAge {
		if b.Sessions != wantAge[i] {
			t.Errorf("age %s: %d sessions, want %d", b.Age, b.Sessions, wantAge[i])
		}
	}
	if len(s.TopUsers) != 2 || s.TopUsers[0].User != "alice" || s.TopUsers[0].Sessions != 2 || s.TopUsers[1].User != "bob" {
		t.Errorf("top users = %+v, want alice 2, bob 1", s.TopUsers)
	}
	s = decodeJSON[stats](t, mustRun(t, 0, "stats", store, "--json", "--top", "1"))
	if len(s.TopUsers) != 1 {
		t.Errorf("--top 1 gave %d users", len(s.TopUsers))
	}

	table := mustRun(t, 0, "stats", store).stdout
	for _, want := range []string{"Sessions", "5", "With a user", "AGE", "TOP USERS", "alice"} {
		if !strings.Contains(table, want) {
			t.Errorf("stats table lacks %q:\n%s", want, table)
		}
	}
}

type listJSON struct {
	Sessions []struct {
		Key     string
		User    string
		Expires string
		Created string
	}
	NextAfter string `json:"next_after"`
}

func TestBoltList(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	fx := fixture(now)
	seedBolt(t, db, fx)
	store := "--store=bolt://" + db

	var live []string
	for _, s := range fx[:5] {
		live = append(live, s.key())
	}
	slices.Sort(live)

	all := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json"))
	var keys []string
	for _, s := range all.Sessions {
		keys = append(keys, s.Key)
	}
	if !slices.Equal(keys, live) || all.NextAfter != "" {
		t.Fatalf("list keys = %v (next %q), want %v", keys, all.NextAfter, live)
	}

	// Pages of two, following next_after, cover every key once.
	var paged []string
	after := ""
	for range 5 {
		args := []string{"list", store, "--json", "--limit", "2"}
		if after != "" {
			args = append(args, "--after", after)
		}
		page := decodeJSON[listJSON](t, mustRun(t, 0, args...))
		for _, s := range page.Sessions {
			paged = append(paged, s.Key)
		}
		if page.NextAfter == "" {
			break
		}
		after = page.NextAfter
	}
	if !slices.Equal(paged, live) {
		t.Errorf("paged keys = %v, want %v", paged, live)
	}

	alice := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json", "--user", "alice"))
	if len(alice.Sessions) != 2 || alice.Sessions[0].User != "alice" {
		t.Errorf("list --user alice = %+v", alice.Sessions)
	}
	none := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json", "--user", "nobody"))
	if len(none.Sessions) != 0 {
		t.Errorf("list --user nobody = %+v", none.Sessions)
	}

	r := mustRun(t, 0, "list", store, "--limit", "3")
	if !strings.Contains(r.stdout, "KEY") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("table of 3 sessions:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "next page: --after "+live[2]) {
		t.Errorf("no next-page hint:\n%s", r.stderr)
	}
}

func TestBoltShow(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	fx := fixture(now)
	seedBolt(t, db, fx)
	store := "--store=bolt://" + db
	alice := fx[0]

	type showJSON struct {
		Key, User, Expires, Created string
		Persistent                  bool
		Values                      map[string]any
	}
	for _, arg := range []string{alice.key(), alice.id} {
		s := decodeJSON[showJSON](t, mustRun(t, 0, "show", store, "--json", arg))
		if s.Key != alice.key() || s.User != "alice" || !s.Persistent {
			t.Errorf("show %s = %+v", arg, s)
		}
		if s.Values["n"] != float64(1) || fmt.Sprint(s.Values["cart"]) != "[apple]" {
			t.Errorf("show %s values = %v", arg, s.Values)
		}
		exp, err := time.Parse(time.RFC3339Nano, s.Expires)
		if err != nil || !exp.Equal(alice.expiry.Truncate(time.Millisecond)) && !exp.Equal(alice.expiry) {
			t.Errorf("show %s expires %q, want %s", arg, s.Expires, alice.expiry)
		}
	}
	r := mustRun(t, 0, "show", store, alice.id)
	for _, want := range []string{"Key", alice.key(), "alice", "Values:", `"cart": [`, `"apple"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}

	for _, missing := range []string{"no-such-id", fx[5].id, fx[5].key()} {
		r := cli(t, nil, "show", store, missing)
		if r.code != 3 || !strings.Contains(r.stderr, "no live session") {
			t.Errorf("show %s: exit %d, stderr %s; want 3", missing, r.code, r.stderr)
		}
	}
}

func TestBoltRevoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	fx := fixture(now)
	seedBolt(t, db, fx)
	store := "--store=bolt://" + db

	r := mustRun(t, 0, "revoke", store, fx[2].id) // bob, by ID
	if !strings.Contains(r.stdout, "revoked session "+fx[2].key()) {
		t.Errorf("revoke output: %s", r.stdout)
	}
	mustRun(t, 3, "show", store, fx[2].id)
	mustRun(t, 3, "revoke", store, fx[2].id)

	rv := decodeJSON[map[string]any](t, mustRun(t, 0, "revoke", store, "--user", "alice", "--json"))
	if rv["revoked"] != float64(2) {
		t.Errorf("revoke --user alice = %v, want 2", rv)
	}
	r = mustRun(t, 3, "revoke", store, "--user", "alice")
	if !strings.Contains(r.stderr, `user "alice" has no live sessions`) {
		t.Errorf("stderr: %s", r.stderr)
	}
	left := readBolt(t, db)
	if len(left) != 2 {
		t.Errorf("%d sessions left, want the 2 anonymous ones", len(left))
	}
	for _, s := range fx[3:5] {
		if _, ok := left[s.key()]; !ok {
			t.Errorf("session %s was revoked too", s.id)
		}
	}
}

func TestBoltPurge(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	seedBolt(t, db, fixture(time.Now()))
	store := "--store=bolt://" + db
	p := decodeJSON[map[string]any](t, mustRun(t, 0, "purge", store, "--json"))
	if p["purged"] != float64(1) {
		t.Errorf("purge = %v, want 1 (the expired session)", p)
	}
	r := mustRun(t, 0, "purge", store)
	if !strings.Contains(r.stdout, "purged 0 expired sessions") {
		t.Errorf("second purge: %s", r.stdout)
	}
	if n := len(readBolt(t, db)); n != 5 {
		t.Errorf("%d live sessions after purge, want 5", n)
	}
	r = mustRun(t, 0, "purge", "--store", "memory://")
	if !strings.Contains(r.stdout, "purged 0") {
		t.Errorf("memory purge: %s", r.stdout)
	}
}

func TestBoltDoctor(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	seedBolt(t, db, fixture(time.Now()))
	type report struct {
		OK     bool
		Checks []struct{ Name, Status, Detail string }
	}
	rep := decodeJSON[report](t, mustRun(t, 0, "doctor", "bolt://"+db, "--json"))
	if !rep.OK {
		t.Errorf("doctor: %+v", rep)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+"="+c.Status)
	}
	if want := []string{"url=ok", "connect=ok", "store=ok", "write=ok"}; !slices.Equal(names, want) {
		t.Errorf("checks %v, want %v", names, want)
	}
	if n := len(readBolt(t, db)); n != 5 {
		t.Errorf("doctor left %d sessions, want 5 (the probe must be deleted)", n)
	}

	// A file that does not exist is reported, not created.
	missing := filepath.Join(t.TempDir(), "nope.db")
	r := mustRun(t, 1, "doctor", "bolt://"+missing)
	if !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "does not exist") {
		t.Errorf("doctor on a missing file:\n%s", r.stdout)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("doctor created %s", missing)
	}
	// The same for every other command.
	mustRun(t, 1, "stats", "--store", "bolt://"+missing)
	// Except doctor --fix, which creates it.
	r = mustRun(t, 0, "doctor", "bolt://"+missing, "--fix")
	if !strings.Contains(r.stdout, "created file "+missing) {
		t.Errorf("doctor --fix on a missing file:\n%s", r.stdout)
	}
	mustRun(t, 0, "stats", "--store", "bolt://"+missing)
}

func TestBoltLockedTimesOut(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := mustRun(t, 1, "stats", "--store", "bolt://"+db+"?lock_timeout=100ms")
	if !strings.Contains(r.stderr, "locked by another process") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestBoltMigrate(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	fx := fixture(time.Now())
	seedBolt(t, src, fx)
	from, to := "--from=bolt://"+src, "--to=bolt://"+dst

	type summary struct {
		DryRun         bool  `json:"dry_run"`
		Copied         int64 `json:"copied"`
		AlreadyPresent int64 `json:"already_present"`
		Expired        int64 `json:"expired"`
	}
	dry := decodeJSON[summary](t, mustRun(t, 0, "migrate", from, to, "--dry-run", "--json"))
	if !dry.DryRun || dry.Copied != 5 || dry.AlreadyPresent != 0 {
		t.Errorf("dry run = %+v, want 5 to copy", dry)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatalf("--dry-run created the target")
	}

	r := mustRun(t, 0, "migrate", from, to, "--progress")
	if !strings.Contains(r.stdout, "copied") || !strings.Contains(r.stderr, "migrating") {
		t.Errorf("migrate output:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	again := decodeJSON[summary](t, mustRun(t, 0, "migrate", from, to, "--json"))
	if again.Copied != 0 || again.AlreadyPresent != 5 {
		t.Errorf("second run = %+v, want all 5 already present", again)
	}

	want := readBolt(t, src)
	got := readBolt(t, dst)
	if len(got) != len(want) {
		t.Fatalf("target has %d sessions, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !bytes.Equal(g.Data, w.Data) || !g.Expiry.Equal(w.Expiry) || g.UserKey != w.UserKey {
			t.Errorf("session %s: got %+v, want %+v", k, g, w)
		}
	}
	// The user index came along.
	rv := decodeJSON[map[string]any](t, mustRun(t, 0, "revoke", "--store=bolt://"+dst, "--user", "alice", "--json"))
	if rv["revoked"] != float64(2) {
		t.Errorf("alice's sessions on the target: %v", rv)
	}
}

func TestUnreachableServer(t *testing.T) {
	// A port nobody listens on: find one and close it.
	port := closedPort(t)
	const password = "correct-horse-battery"
	for _, url := range []string{
		"redis://:" + password + "@127.0.0.1:" + port + "/0",
		"postgres://app:" + password + "@127.0.0.1:" + port + "/app",
		"mysql://app:" + password + "@127.0.0.1:" + port + "/app",
	} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			r := mustRun(t, 1, "stats", "--store", url, "--timeout", "2s")
			if strings.Contains(r.stderr+r.stdout, password) {
				t.Errorf("the password leaked:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, "127.0.0.1:"+port) {
				t.Errorf("the error does not name the server:\n%s", r.stderr)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(l.Addr().String(), "127.0.0.1:")
	l.Close()
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("port %q", port)
	}
	return port
}

// TestKeyStartingWithDash: session IDs and store keys are base64url and
// begin with "-" once in 64 times; show and revoke take them as arguments,
// wherever they stand among the flags, not as unknown short flags.
func TestKeyStartingWithDash(t *testing.T) {
	now := time.Now()
	dashID := session{id: "-" + strings.Repeat("A", 42), user: "alice", created: now, expiry: now.Add(time.Hour)}
	dashKey := session{user: "bob", created: now, expiry: now.Add(time.Hour)}
	for i := 0; !strings.HasPrefix(dashKey.key(), "-"); i++ {
		dashKey.id = fmt.Sprintf("id-%d", i)
	}
	db := filepath.Join(t.TempDir(), "s.db")
	seedBolt(t, db, []session{dashID, dashKey})
	store := "--store=bolt://" + db

	tests := []struct {
		name string
		args []string
		user string
	}{
		{"ID last", []string{"show", store, "--json", dashID.id}, "alice"},
		{"ID first", []string{"show", dashID.id, store, "--json"}, "alice"},
		{"key with -s", []string{"-s", "bolt://" + db, "show", dashKey.key(), "--json"}, "bob"},
		{"key after --", []string{"show", store, "--json", "--", dashKey.key()}, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := decodeJSON[struct{ Key, User string }](t, mustRun(t, 0, tt.args...))
			if s.User != tt.user {
				t.Errorf("sessionkit %s: user %q, want %q", strings.Join(tt.args, " "), s.User, tt.user)
			}
		})
	}
	mustRun(t, 0, "revoke", dashKey.key(), store)
	mustRun(t, 3, "show", store, dashKey.key())
	// A user key beginning with "-" stays the value of --user.
	mustRun(t, 3, "revoke", store, "--user", "-"+strings.Repeat("u", 40))
	mustRun(t, 2, "show", store, dashID.id, "extra")
}

// TestBoltMissingBucket: a bolt file without the URL's bucket (a misspelt
// ?bucket=) is reported like a missing table, not silently given an empty
// bucket: by every command, and by doctor unless --fix, which creates it.
func TestBoltMissingBucket(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	seedBolt(t, db, fixture(time.Now()))
	u := "bolt://" + db + "?bucket=typo"
	for _, args := range [][]string{{"list"}, {"stats"}, {"show", "id-alice-1"}, {"revoke", "id-alice-1"}, {"purge"}} {
		r := mustRun(t, 1, append(args, "--store", u)...)
		if !strings.Contains(r.stderr, `no bucket "typo"`) {
			t.Errorf("%s on a file without the bucket: %s", args[0], r.stderr)
		}
	}
	r := mustRun(t, 1, "doctor", u)
	if !strings.Contains(r.stdout, "FAIL  schema") || !strings.Contains(r.stdout, `no bucket "typo"`) {
		t.Errorf("doctor on a file without the bucket:\n%s", r.stdout)
	}
	s, err := boltstore.Open(db, boltstore.WithNoCreate(), boltstore.WithBucket("typo"), boltstore.WithSweepInterval(0))
	if err == nil {
		s.Close()
		t.Fatal("a command created the bucket")
	}
	r = mustRun(t, 0, "doctor", u, "--fix")
	if !strings.Contains(r.stdout, "OK  fix      created the buckets in "+db) {
		t.Errorf("doctor --fix:\n%s", r.stdout)
	}
	mustRun(t, 0, "list", "--store", u)
	if n := len(readBolt(t, db)); n != 5 {
		t.Errorf("the default bucket holds %d sessions, want 5", n)
	}
}
