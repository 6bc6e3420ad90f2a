package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// expressSession is a session as express-session and Passport write it.
type expressSession struct {
	id     string
	user   int // Passport's user, -1 for none
	maxAge time.Duration
	expiry time.Time
	i      int
}

func (s expressSession) data() []byte {
	cookie := `"originalMaxAge":null,"expires":null`
	if s.maxAge > 0 {
		cookie = `"originalMaxAge":` + strconv.FormatInt(s.maxAge.Milliseconds(), 10) +
			`,"expires":"` + s.expiry.UTC().Format("2006-01-02T15:04:05.000Z") + `"`
	}
	out := `{"cookie":{` + cookie + `,"httpOnly":true,"path":"/","sameSite":"lax"}`
	if s.user >= 0 {
		out += `,"passport":{"user":` + strconv.Itoa(s.user) + `}`
	}
	return []byte(out + `,"i":` + strconv.Itoa(s.i) + `}`)
}

// expressSessions makes n sessions: a third with a user (500 users), a
// seventh with a browser-session cookie (kept for the store's ttl, 24h).
func expressSessions(n int) []expressSession {
	now := time.Now().Truncate(time.Millisecond)
	out := make([]expressSession, n)
	for i := range out {
		s := expressSession{id: fmt.Sprintf("%06d%s", i, strings.Repeat("x", 26)), user: -1, maxAge: time.Hour, i: i}
		if i%3 == 0 {
			s.user = i % 500
		}
		if i%7 == 0 {
			s.maxAge = 0
			s.expiry = now.Add(24 * time.Hour)
		} else {
			s.expiry = now.Add(s.maxAge - time.Duration(i%1000)*time.Millisecond)
		}
		out[i] = s
	}
	return out
}

// expressLayout is one Node store's layout, with a native target.
type expressLayout struct {
	from, to string
	src      sessionkit.Store // the express layout, to change sessions as Node would
	dst      interface {
		sessionkit.Store
		sessionkit.Iterator
		sessionkit.UserIndex
	}
	seed func(t *testing.T, sessions []expressSession)
}

func redisExpressLayout(t *testing.T) expressLayout {
	ctx := context.Background()
	to, dst := redisURL(t)
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	prefix := uniqueName("sess") + ":"
	src, err := redisstore.NewFromURL(ctx, base, redisstore.Options{Prefix: prefix, Layout: redisstore.LayoutConnectRedis, UserKeyOf: express.UserKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := src.Client()
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			c.Unlink(ctx, it.Val())
		}
		src.Close()
	})
	return expressLayout{
		from: withParam(withParam(base, "layout", "connect-redis"), "prefix", prefix),
		to:   to, src: src, dst: dst,
		seed: func(t *testing.T, sessions []expressSession) {
			p := src.Client().Pipeline()
			for i, s := range sessions {
				p.Do(ctx, "set", prefix+s.id, s.data(), "pxat", s.expiry.UnixMilli())
				if i%1000 == 999 || i == len(sessions)-1 {
					if _, err := p.Exec(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Not a session: another application's key under the prefix.
			if err := src.Client().Set(ctx, prefix+"stats", "42", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func postgresExpressLayout(t *testing.T) expressLayout {
	ctx := context.Background()
	to, dst := postgresURL(t)
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := uniqueName("skcli_cps_")
	src, err := pgstore.Open(ctx, base, pgstore.Options{Table: table, Layout: pgstore.LayoutConnectPgSimple, UserKeyOf: express.UserKey, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.DropTable(ctx)
		src.Close()
	})
	return expressLayout{
		from: withParam(withParam(base, "layout", "connect-pg-simple"), "table", table),
		to:   to, src: src, dst: dst,
		seed: func(t *testing.T, sessions []expressSession) {
			const batch = 2000
			for start := 0; start < len(sessions); start += batch {
				var ids, data []string
				var exps []time.Time
				for _, s := range sessions[start:min(start+batch, len(sessions))] {
					ids, data, exps = append(ids, s.id), append(data, string(s.data())), append(exps, s.expiry)
				}
				// As connect-pg-simple writes expire: the session time
				// zone's wall clock.
				_, err := src.Pool().Exec(ctx, `INSERT INTO "`+table+`" (sid, sess, expire)
SELECT s, j::json, e::timestamptz::timestamp FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(s, j, e)`, ids, data, exps)
				if err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

func mongoExpressLayout(t *testing.T) expressLayout {
	ctx := context.Background()
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/sessionkit_cli"
	db := u.String()
	quiet := slog.New(slog.DiscardHandler)
	srcColl, dstColl := uniqueName("cm_"), uniqueName("native_")
	src, err := mongostore.Open(ctx, db, mongostore.Options{Collection: srcColl, Layout: mongostore.LayoutConnectMongo, UserKeyOf: express.UserKey, SweepInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := mongostore.Open(ctx, db, mongostore.Options{Collection: dstColl, SweepInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.Collection().Drop(ctx)
		dst.Collection().Drop(ctx)
		src.Close()
		dst.Close()
	})
	return expressLayout{
		from: withParam(withParam(db, "layout", "connect-mongo"), "collection", srcColl),
		to:   withParam(db, "collection", dstColl),
		src:  src, dst: dst,
		seed: func(t *testing.T, sessions []expressSession) {
			const batch = 1000
			for start := 0; start < len(sessions); start += batch {
				var docs []any
				for _, s := range sessions[start:min(start+batch, len(sessions))] {
					docs = append(docs, bson.D{{Key: "_id", Value: s.id}, {Key: "session", Value: string(s.data())}, {Key: "expires", Value: s.expiry}})
				}
				if _, err := src.Collection().InsertMany(ctx, docs); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

type expressSummary struct {
	Read              int64 `json:"read"`
	Written           int64 `json:"written"`
	Updated           int64 `json:"updated"`
	Unchanged         int64 `json:"unchanged"`
	SkippedExpired    int64 `json:"skipped_expired"`
	SkippedUnreadable int64 `json:"skipped_unreadable"`
	SkippedEnded      int64 `json:"skipped_ended"`
	Removed           int64 `json:"removed"`
	Complete          bool  `json:"complete"`
}

var plain struct {
	once sync.Once
	path string
	err  error
}

// plainBinary returns the sessionkit command built without the race
// detector (the one TestMain built, when it has none).
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return binary
	}
	plain.once.Do(func() {
		plain.path = filepath.Join(filepath.Dir(binary), "sessionkit-norace")
		out, err := exec.Command("go", "build", "-o", plain.path, ".").CombinedOutput()
		if err != nil {
			plain.err = fmt.Errorf("build sessionkit: %v\n%s", err, out)
		}
	})
	if plain.err != nil {
		t.Fatal(plain.err)
	}
	return plain.path
}

// runWith runs bin with args and fails the test unless it exits with
// want.
func runWith(t *testing.T, bin string, want int, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("sessionkit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// interruptedMigrate starts migrate with a progress bar and interrupts it
// (SIGINT, as Ctrl-C) once it has read at least after sessions.
func interruptedMigrate(t *testing.T, bin string, after int, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--progress")...)
	var out bytes.Buffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	count := regexp.MustCompile(`\((\d+)/\d+`)
	var stderr strings.Builder
	sc := bufio.NewScanner(pipe)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) { // lines end in \r or \n
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i+1], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	sent := false
	for sc.Scan() {
		stderr.WriteString(sc.Text())
		if m := count.FindStringSubmatch(sc.Text()); m != nil && !sent {
			if n, _ := strconv.Atoi(m[1]); n >= after {
				cmd.Process.Signal(os.Interrupt)
				sent = true
			}
		}
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if !sent {
		t.Fatalf("migrate ended before it was interrupted (exit %d):\n%s", code, stderr.String())
	}
	return result{out.String(), stderr.String(), code}
}

// TestMigrateExpress turns a large number of express sessions of each
// Node store into native ones, interrupted once and resumed, then again
// after Node changed and ended some: every session arrives once, with its
// values, user, lifetime and expiry; nothing is left of ended ones.
// expressLayouts are the express-session stores the CLI reads, each set up
// on its throw-away backend.
var expressLayouts = []struct {
	name   string
	layout func(*testing.T) expressLayout
}{
	{"redis", redisExpressLayout},
	{"postgres", postgresExpressLayout},
	{"mongo", mongoExpressLayout},
}

func TestMigrateExpress(t *testing.T) {
	// FerretDB v1 (the test's MongoDB) slows down with the size of a
	// collection (1,500 sessions took minutes): its count stays small.
	sizes := map[string]int{"redis": 50_000, "postgres": 20_000, "mongo": 200}
	if testing.Short() {
		sizes = map[string]int{"redis": 5000, "postgres": 5000, "mongo": 100}
	}
	// The count is what this test is about, not races (the in-process
	// tests of compat/express's Migrator run with the race detector):
	// a binary built without it is several times faster.
	bin := plainBinary(t)
	for _, tc := range expressLayouts {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := tc.layout(t)
			n := sizes[tc.name]
			sessions := expressSessions(n)
			start := time.Now()
			l.seed(t, sessions)
			t.Logf("seeded %d express sessions in %s", n, time.Since(start).Round(time.Millisecond))
			unreadable := int64(0)
			if tc.name == "redis" {
				unreadable = 1
			}
			args := []string{"migrate", "--from", l.from, "--to", l.to}

			// Interrupted, then resumed: nothing twice, nothing missing.
			start = time.Now()
			r := interruptedMigrate(t, bin, n/10, append(args[:len(args):len(args)], "--workers", "1")...)
			if r.code != 1 || !strings.Contains(r.stderr, "running it again resumes safely") {
				t.Fatalf("interrupted migrate: exit %d\n%s", r.code, lastLine(r.stderr))
			}
			before := 0
			for _, err := range l.dst.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				before++
			}
			if before == 0 || before >= n {
				t.Fatalf("%d copies after the interruption, want some of %d", before, n)
			}
			sum := decodeJSON[expressSummary](t, runWith(t, bin, 0, append(args, "--json")...))
			t.Logf("interrupted after %d copies; both runs took %s", before, time.Since(start).Round(time.Millisecond))
			want := expressSummary{Read: int64(n) + unreadable, Written: int64(n - before), Unchanged: int64(before), SkippedUnreadable: unreadable, Complete: true}
			if sum != want {
				t.Fatalf("resumed run: %+v, want %+v", sum, want)
			}
			checkCopies(t, l, sessions)

			// Node writes to ten sessions and ends ten others.
			for i := 1; i <= 10; i++ {
				s := sessions[i]
				s.i = -i
				cur, err := l.src.Load(ctx, s.id)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.src.Save(ctx, s.id, sessionkit.Record{Data: s.data(), Expiry: s.expiry, Version: cur.Version}); err != nil {
					t.Fatal(err)
				}
				sessions[i] = s
			}
			ended := sessions[11:21]
			for _, s := range ended {
				if err := l.src.Delete(ctx, s.id); err != nil {
					t.Fatal(err)
				}
			}
			sessions = append(sessions[:11:11], sessions[21:]...)
			sum = decodeJSON[expressSummary](t, runWith(t, bin, 0, append(args, "--json")...))
			want = expressSummary{Read: int64(n-10) + unreadable, Updated: 10, Unchanged: int64(n - 20), SkippedUnreadable: unreadable, Removed: 10, Complete: true}
			if sum != want {
				t.Fatalf("after Node's changes: %+v, want %+v", sum, want)
			}
			checkCopies(t, l, sessions)
			sum = decodeJSON[expressSummary](t, runWith(t, bin, 0, append(args, "--dry-run", "--json")...))
			want = expressSummary{Read: int64(n-10) + unreadable, Unchanged: int64(n - 10), SkippedUnreadable: unreadable, Complete: true}
			if sum != want {
				t.Fatalf("dry run after the migration: %+v, want %+v", sum, want)
			}
		})
	}
}

// checkCopies checks that the target holds exactly one native copy of
// every session, with its values, user, lifetime and expiry.
func checkCopies(t *testing.T, l expressLayout, sessions []expressSession) {
	t.Helper()
	ctx := context.Background()
	byKey := make(map[string]expressSession, len(sessions))
	users := map[string]int{}
	for _, s := range sessions {
		byKey[express.MigratedKey(s.id)] = s
		if s.user >= 0 {
			users[strconv.Itoa(s.user)]++
		}
	}
	got := 0
	for e, err := range l.dst.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got++
		s, ok := byKey[e.Key]
		if !ok {
			t.Fatalf("unexpected key %q on the target", e.Key)
		}
		st, err := sessionkit.JSONCodec{}.Decode(e.Record.Data)
		if err != nil {
			t.Fatalf("%s: the native codec cannot read %s: %v", s.id, e.Record.Data, err)
		}
		values := map[string]json.RawMessage{}
		for _, v := range st.Values {
			values[v.Key] = v.JSON
		}
		wantUser, wantIdle := "", s.maxAge
		if s.user >= 0 {
			wantUser = strconv.Itoa(s.user)
		}
		if wantIdle == 0 {
			wantIdle = express.DefaultTTL
		}
		switch {
		case string(values["i"]) != strconv.Itoa(s.i):
			t.Fatalf("%s: values %s", s.id, e.Record.Data)
		case e.Record.UserKey != wantUser || (wantUser != "" && string(values["_user"]) != strconv.Quote(wantUser)):
			t.Fatalf("%s: user %q, data %s; want %q", s.id, e.Record.UserKey, e.Record.Data, wantUser)
		case st.IdleTimeout != wantIdle || st.Persistent != (s.maxAge > 0):
			t.Fatalf("%s: idle %v persistent %v; want %v %v", s.id, st.IdleTimeout, st.Persistent, wantIdle, s.maxAge > 0)
		case e.Record.Expiry.Sub(s.expiry).Abs() > 2*time.Second:
			t.Fatalf("%s: expiry %v, want %v", s.id, e.Record.Expiry, s.expiry)
		}
	}
	if got != len(sessions) {
		t.Fatalf("target has %d copies, want %d", got, len(sessions))
	}
	for _, u := range []string{"0", "499"} {
		es, err := l.dst.UserSessions(ctx, u)
		if err != nil || len(es) != users[u] {
			t.Fatalf("target's index for user %s: %d sessions (%v), want %d", u, len(es), err, users[u])
		}
	}
}

func TestMigrateExpressUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--from", "redis://h?layout=connect-pg-simple", "--to", "redis://h"}, "want native or connect-redis"},
		{[]string{"migrate", "--from", "redis://h", "--to", "redis://h?layout=connect-redis"}, "express-session cannot read native records"},
		{[]string{"migrate", "--from", "redis://h?layout=connect-redis", "--to", "redis://h", "--ttl", "0s"}, "--ttl must be positive"},
		{[]string{"migrate", "--from", "redis://h?layout=connect-redis", "--to", "redis://h", "--user-field", "passport"}, "--user-field"},
		{[]string{"migrate", "--from", "redis://h", "--to", "postgres://h/db", "--ttl", "1h"}, "apply to a source in an express layout"},
		// The native copies in the express store's own place.
		{[]string{"migrate", "--from", "mongodb://h/app?layout=connect-mongo", "--to", "mongodb://h/app"}, `collection "sessions"`},
		{[]string{"migrate", "--from", "mongodb://h/app?layout=connect-mongo&collection=s", "--to", "mongodb://h/app?collection=s", "--dry-run"}, `collection "s"`},
		{[]string{"migrate", "--from", "postgres://h/app?layout=connect-pg-simple", "--to", "postgresql://h/app?table=public.session"}, `table "session"`},
		{[]string{"migrate", "--from", "redis://h/0?layout=connect-redis", "--to", "redis://h?prefix=sess:native:"}, `key prefix "sess:"`},
		{[]string{"migrate", "--from", "redis+cluster://a:1,b:2?layout=connect-redis&prefix=app:", "--to", "redis+cluster://a:1,b:2?prefix=app:"}, `key prefix "app:"`},
	} {
		r := mustRun(t, 2, tt.args...)
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("sessionkit %s: stderr %q lacks %q", strings.Join(tt.args, " "), r.stderr, tt.want)
		}
	}
}

// The inspecting commands read a store in an express layout as
// express-session wrote it: raw IDs as keys, Passport's user, the values,
// and no creation time.
func TestExpressLayoutInspect(t *testing.T) {
	l := redisExpressLayout(t)
	sessions := expressSessions(3)
	l.seed(t, sessions)
	store := "--store=" + l.from
	list := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json"))
	if len(list.Sessions) != 4 { // and the key that is not a session
		t.Fatalf("list: %+v", list)
	}
	for _, s := range list.Sessions {
		if s.Key == sessions[0].id && (s.User != "0" || s.Created != "") {
			t.Fatalf("list: %+v", s)
		}
	}
	// An express layout has no user index: --user reads every session
	// and keeps the user's.
	mine := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--user", "0", "--json"))
	if len(mine.Sessions) != 1 || mine.Sessions[0].Key != sessions[0].id || mine.Sessions[0].User != "0" {
		t.Fatalf("list --user 0: %+v, want only %s", mine, sessions[0].id)
	}
	r := mustRun(t, 0, "show", store, sessions[0].id)
	for _, want := range []string{"User         0", "Created      -\n", `"passport": {`, `"i": 0`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	// The sessions have no creation time; the key that is not a session
	// cannot be decoded at all.
	r = mustRun(t, 0, "stats", store)
	for _, want := range []string{"Age unknown    3 (not in the age table)", "Not decodable  1 (not in the age table)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats lacks %q:\n%s", want, r.stdout)
		}
	}
	st := decodeJSON[struct {
		Sessions    int
		Undecodable int
		AgeUnknown  int `json:"age_unknown"`
	}](t, mustRun(t, 0, "stats", store, "--json"))
	if st.Sessions != 4 || st.Undecodable != 1 || st.AgeUnknown != 3 {
		t.Errorf("stats --json = %+v, want 4 sessions, 1 undecodable, 3 of unknown age", st)
	}
	mustRun(t, 0, "revoke", store, sessions[1].id)
	if _, err := l.src.Load(context.Background(), sessions[1].id); err == nil {
		t.Error("revoke left the express session")
	}
}

// Between two express layouts (moving Node's store), records are copied
// as they are: Node reads them on the new store.
func TestMigrateBetweenExpressLayouts(t *testing.T) {
	from := redisExpressLayout(t)
	to := postgresExpressLayout(t)
	sessions := expressSessions(5)
	from.seed(t, sessions)
	sum := decodeJSON[struct{ Copied int64 }](t, mustRun(t, 0, "migrate", "--from", from.from, "--to", to.from, "--json"))
	if sum.Copied != 6 { // and the key that is not a session, which is JSON too
		t.Fatalf("copied %d", sum.Copied)
	}
	for _, s := range sessions {
		rec, err := to.src.Load(context.Background(), s.id)
		if err != nil || string(rec.Data) != string(s.data()) || rec.Expiry.Sub(s.expiry).Abs() > 2*time.Second {
			t.Fatalf("%s on connect-pg-simple: %s %v (%v)", s.id, rec.Data, rec.Expiry, err)
		}
	}
}

// A run over an express store that holds no sessions (a wrong --from, a
// retired store) removes no copies.
func TestMigrateExpressEmptySourceKeepsCopies(t *testing.T) {
	ctx := context.Background()
	l := redisExpressLayout(t)
	sessions := expressSessions(3)
	l.seed(t, sessions)
	args := []string{"migrate", "--from", l.from, "--to", l.to, "--json"}
	if sum := decodeJSON[expressSummary](t, mustRun(t, 0, args...)); sum.Written != 3 {
		t.Fatalf("first run: %+v", sum)
	}
	for _, s := range sessions {
		if err := l.src.Delete(ctx, s.id); err != nil {
			t.Fatal(err)
		}
	}
	l.src.Delete(ctx, "stats")
	r := mustRun(t, 0, args...)
	if sum := decodeJSON[expressSummary](t, r); sum.Read != 0 || sum.Removed != 0 || !sum.Complete {
		t.Fatalf("run over the emptied store: %+v", sum)
	}
	if !strings.Contains(r.stderr, "no copies were removed") {
		t.Errorf("stderr: %q", r.stderr)
	}
	checkCopies(t, l, sessions)
}

// A source that holds records but no express session (another
// application's keys only: a wrong --from, or koa-generic-session's
// prefix) keeps the copies, as an empty one does.
func TestMigrateExpressForeignOnlySourceKeepsCopies(t *testing.T) {
	ctx := context.Background()
	l := redisExpressLayout(t)
	sessions := expressSessions(3)
	l.seed(t, sessions) // also a foreign "stats" key under the prefix
	args := []string{"migrate", "--from", l.from, "--to", l.to, "--json"}
	if sum := decodeJSON[expressSummary](t, mustRun(t, 0, args...)); sum.Written != 3 {
		t.Fatalf("first run: %+v", sum)
	}
	for _, s := range sessions {
		if err := l.src.Delete(ctx, s.id); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRun(t, 0, args...)
	if sum := decodeJSON[expressSummary](t, r); sum.Read != 1 || sum.SkippedUnreadable != 1 || sum.Removed != 0 || !sum.Complete {
		t.Fatalf("run over a store with no express session left: %+v", sum)
	}
	if !strings.Contains(r.stderr, "no copies were removed") {
		t.Errorf("stderr: %q", r.stderr)
	}
	checkCopies(t, l, sessions)
}

// TestExpressLayoutListUser checks list --user on every express layout,
// which has no user index: it reads every session, keeps the user's, and
// pages them with --limit and --after as any list; revoke --user stays
// unavailable there (docs/CLI.md).
func TestExpressLayoutListUser(t *testing.T) {
	for _, tc := range expressLayouts {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.layout(t)
			sessions := expressSessions(30)
			sessions[4].user, sessions[20].user = 0, 0 // and session 0's
			l.seed(t, sessions)
			want := []string{sessions[0].id, sessions[4].id, sessions[20].id}
			slices.Sort(want)
			store := "--store=" + l.from
			all := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--user", "0", "--json"))
			var got []string
			for _, s := range all.Sessions {
				if s.User != "0" {
					t.Errorf("list --user 0 listed %+v", s)
				}
				got = append(got, s.Key)
			}
			if !slices.Equal(got, want) || all.NextAfter != "" {
				t.Fatalf("list --user 0: %v (next %q), want %v", got, all.NextAfter, want)
			}
			page := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--user", "0", "--limit", "2", "--json"))
			if len(page.Sessions) != 2 || page.Sessions[1].Key != want[1] || page.NextAfter != want[1] {
				t.Fatalf("list --user 0 --limit 2: %+v, want %v and next_after %s", page, want[:2], want[1])
			}
			rest := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--user", "0", "--limit", "2", "--after", page.NextAfter, "--json"))
			if len(rest.Sessions) != 1 || rest.Sessions[0].Key != want[2] || rest.NextAfter != "" {
				t.Fatalf("list --user 0 --after %s: %+v, want only %s", page.NextAfter, rest, want[2])
			}
			if r := cli(t, nil, "revoke", store, "--user", "0"); r.code == 0 || !strings.Contains(r.stderr, "no user index") {
				t.Errorf("revoke --user on an express layout: exit %d, stderr %q; want a failure naming the missing user index", r.code, r.stderr)
			}
		})
	}
}
