package express_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The whole move off express-session against the real npm packages: the
// Express app (testdata/nodeapp) creates sessions in its store, the
// sessionkit command migrates them while Node and the native Go app both
// serve, users come back to the Go app still signed in with everything
// they had, and their old cookies are dead on both sides afterwards; then
// Node stops, the express store is retired, and the copies alone carry
// the rest over.

// nativeStore is what the native app needs of its store.
type nativeStore interface {
	sessionkit.Store
	sessionkit.Iterator
	sessionkit.UserIndex
}

// migrateEnv is one Node store layout with a native store beside it.
type migrateEnv struct {
	express  sessionkit.Store // the Node store, in its layout
	native   nativeStore
	nodeKind string // for startNode
	nodeURL  string // the store URL for Node
	nodeName string // its prefix, table or collection
	fromURL  string // the sessionkit command's URLs
	toURL    string
	ttl      time.Duration // the Node store's ttl
	bulk     int           // sessions of users who never come back, so the pass takes a while
}

func TestMigrateInteropRedis(t *testing.T) {
	t.Parallel()
	base := testenv.Getenv(t, testenv.RedisURLEnv)
	nodeModulesOrSkip(t)
	ctx := context.Background()
	prefix, nprefix := uniqueName("sess_")+":", uniqueName("native_")+":"
	old, err := redisstore.NewFromURL(ctx, base, redisstore.Options{Prefix: prefix, Layout: redisstore.LayoutConnectRedis, UserKeyOf: express.UserKey})
	if err != nil {
		t.Fatal(err)
	}
	native, err := redisstore.NewFromURL(ctx, base, redisstore.Options{Prefix: nprefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := old.Client()
		for _, p := range []string{prefix, nprefix} {
			it := c.Scan(ctx, 0, p+"*", 1000).Iterator()
			for it.Next(ctx) {
				c.Unlink(ctx, it.Val())
			}
		}
		old.Close()
		native.Close()
	})
	runMigrateInterop(t, migrateEnv{
		express: old, native: native,
		nodeKind: "redis", nodeURL: base, nodeName: prefix,
		fromURL: base + "?layout=connect-redis&prefix=" + url.QueryEscape(prefix),
		toURL:   base + "?prefix=" + url.QueryEscape(nprefix),
		ttl:     24 * time.Hour,
		bulk:    3000,
	})
}

func TestMigrateInteropPostgres(t *testing.T) {
	t.Parallel()
	base := testenv.Getenv(t, testenv.PostgresURLEnv)
	nodeModulesOrSkip(t)
	ctx := context.Background()
	table, ntable := uniqueName("sk_express_"), uniqueName("sk_native_")
	old, err := pgstore.Open(ctx, base, pgstore.Options{Table: table, Layout: pgstore.LayoutConnectPgSimple, UserKeyOf: express.UserKey, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	native, err := pgstore.Open(ctx, base, pgstore.Options{Table: ntable, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*pgstore.Store{old, native} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range []*pgstore.Store{old, native} {
			s.DropTable(ctx)
			s.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	runMigrateInterop(t, migrateEnv{
		express: old, native: native,
		nodeKind: "pg", nodeURL: base, nodeName: table,
		fromURL: base + sep + "layout=connect-pg-simple&table=" + table,
		toURL:   base + sep + "table=" + ntable,
		ttl:     24 * time.Hour,
		bulk:    3000,
	})
}

func TestMigrateInteropMongo(t *testing.T) {
	t.Parallel()
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	nodeModulesOrSkip(t)
	ctx := context.Background()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/sessionkit_express"
	db := u.String()
	coll, ncoll := uniqueName("express_"), uniqueName("native_")
	quiet := slog.New(slog.DiscardHandler)
	old, err := mongostore.Open(ctx, db, mongostore.Options{Collection: coll, Layout: mongostore.LayoutConnectMongo, UserKeyOf: express.UserKey, SweepInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	native, err := mongostore.Open(ctx, db, mongostore.Options{Collection: ncoll, SweepInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range []*mongostore.Store{old, native} {
			s.Collection().Drop(ctx)
			s.Close()
		}
	})
	sep := "?"
	if strings.Contains(db, "?") {
		sep = "&"
	}
	runMigrateInterop(t, migrateEnv{
		express: old, native: native,
		nodeKind: "mongo", nodeURL: db, nodeName: coll,
		fromURL: db + sep + "layout=connect-mongo&collection=" + coll,
		toURL:   db + sep + "collection=" + ncoll,
		ttl:     14 * 24 * time.Hour, // connect-mongo's default ttl
		bulk:    150,                 // FerretDB v1 slows down with the collection's size
	})
}

// sessionkitCommand builds the sessionkit command into dir.
func sessionkitCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessionkit")
	build := exec.Command("go", "build", "-o", bin, "github.com/sessionkit/sessionkit/cmd/sessionkit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the sessionkit command: %v\n%s", err, out)
	}
	return bin
}

type migrateSummary struct {
	Read, Written, Updated, Unchanged, Removed int64
	SkippedEnded                               int64 `json:"skipped_ended"`
	Complete                                   bool
}

// migrate runs the sessionkit command's migrate and returns its summary.
func (e migrateEnv) migrate(t *testing.T, bin string) migrateSummary {
	t.Helper()
	cmd := exec.Command(bin, "migrate", "--from", e.fromURL, "--to", e.toURL, "--ttl", e.ttl.String(), "--json")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sessionkit migrate: %v\n%s", err, stderr.String())
	}
	var sum migrateSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || !sum.Complete {
		t.Fatalf("sessionkit migrate printed %s (%v)", out.String(), err)
	}
	return sum
}

// idleAbout reports whether the idle timeout a native app reported is
// want or a little short of it: express-session computes originalMaxAge
// from two clock reads (expires - now), which a busy machine can set
// milliseconds apart.
func idleAbout(reported any, want time.Duration) bool {
	d, err := time.ParseDuration(fmt.Sprint(reported))
	return err == nil && d <= want && d > want-time.Second
}

// getResp is c.get that also returns the response headers.
func (c *client) getResp(u string) (map[string]any, http.Header) {
	c.t.Helper()
	resp, err := c.hc.Get(u)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("GET %s: %v: %s", u, err, b)
	}
	return m, resp.Header
}

// nativeCookie returns the Set-Cookie line of the native cookie.
func nativeCookie(h http.Header) string {
	for _, line := range h["Set-Cookie"] {
		if strings.HasPrefix(line, "session=") {
			return line
		}
	}
	return ""
}

func runMigrateInterop(t *testing.T, e migrateEnv) {
	ctx := context.Background()
	bin := sessionkitCommand(t)
	nodeURL := startNode(t, e.nodeKind, e.nodeURL, e.nodeName)
	login := func(c *client, name, pw string) string {
		c.do("POST", nodeURL+"/login", url.Values{"username": {name}, "password": {pw}})
		return c.cookieValue(nodeURL, express.DefaultCookieName)
	}
	var (
		ann, bob, zero, anon, changer, quitter, busy = newClient(t), newClient(t), newClient(t), newClient(t), newClient(t), newClient(t), newClient(t)
	)
	login(ann, "ann", "pw1")
	ann.post(nodeURL + "/set?k=cart&v=" + url.QueryEscape(`[1,{"sku":"<b>&"}]`))
	login(bob, "bob", "pw2")
	bob.post(nodeURL + "/maxage?ms=7200000") // "remember me" for 2h
	login(zero, "zero", "pw0")
	zero.post(nodeURL + "/maxage?ms=null") // a browser-session cookie
	anon.post(nodeURL + "/set?k=theme&v=%22dark%22")
	login(changer, "zero", "pw0")
	quitterCookie := login(quitter, "bob", "pw2")
	login(busy, "ann", "pw1")
	// Written as express-session writes them (the Go side in express
	// mode writes exactly what Node does).
	exp := time.Now().Add(time.Hour)
	for i := range e.bulk {
		data := fmt.Sprintf(`{"cookie":{"originalMaxAge":3600000,"expires":%q,"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":%d},"i":%d}`,
			exp.UTC().Format("2006-01-02T15:04:05.000Z"), 100+i%50, i)
		if _, err := e.express.Save(ctx, fmt.Sprintf("bulk%06d%s", i, strings.Repeat("b", 22)), sessionkit.Record{Data: []byte(data), Expiry: exp}); err != nil {
			t.Fatal(err)
		}
	}

	imp, err := express.NewImporter(express.ImportOptions{
		Secrets:  []string{newSecret, oldSecret},
		Express:  e.express,
		Migrated: e.native,
		TTL:      e.ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	goURL := nativeApp(t, e.native, imp).URL

	// The first pass, while Node writes and the Go app upgrades a user.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	var busyWrites int
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			busy.post(nodeURL + fmt.Sprintf("/set?k=n&v=%d", i))
			busyWrites = i
		}
	}()
	var anonUpgrade map[string]any
	go func() {
		defer wg.Done()
		anonUpgrade = anon.get(goURL + "/whoami")
	}()
	first := e.migrate(t, bin)
	close(stop)
	wg.Wait()
	t.Logf("first pass: %+v, %d Node writes meanwhile", first, busyWrites+1)
	if first.Read < int64(e.bulk)+6 || first.Written+first.Updated+first.SkippedEnded != first.Read {
		t.Fatalf("first pass: %+v", first)
	}
	if anonUpgrade["values"].(map[string]any)["theme"] != "dark" {
		t.Fatalf("anonymous session upgraded during the pass: %v", anonUpgrade)
	}

	// After the pass, Node keeps serving: a new sign-in, a change, a
	// sign-out.
	late := newClient(t)
	login(late, "ann", "pw1")
	changer.post(nodeURL + "/set?k=note&v=%22after%20the%20pass%22")
	quitter.post(nodeURL + "/logout")

	// Users come back to the Go app: still signed in, with everything.
	check := func(c *client, who string, wantUser any, want func(values map[string]any) bool) map[string]any {
		t.Helper()
		old := c.cookieValue(nodeURL, express.DefaultCookieName)
		got, h := c.getResp(goURL + "/whoami")
		if got["user"] != wantUser || !want(got["values"].(map[string]any)) {
			t.Fatalf("%s on the Go app: %v", who, got)
		}
		if c.cookieValue(goURL, express.DefaultCookieName) != "" || c.cookieValue(goURL, "session") == "" {
			t.Fatalf("%s: cookies after the upgrade: %v", who, h["Set-Cookie"])
		}
		got["set-cookie"] = nativeCookie(h)
		// The old cookie is dead on both sides.
		if r := replay(t, goURL, old).get(goURL + "/whoami"); r["stored"] != false || r["user"] != nil {
			t.Fatalf("%s: old cookie replayed on the Go app: %v", who, r)
		}
		if r := replay(t, nodeURL, old).get(nodeURL + "/whoami"); r["user"] != nil || r["session"].(map[string]any)["passport"] != nil {
			t.Fatalf("%s: old cookie replayed on Node: %v", who, r)
		}
		return got
	}
	got := check(ann, "ann", "ann", func(v map[string]any) bool { return fmt.Sprint(v["cart"]) == "[1 map[sku:<b>&]]" && v["_user"] == "1" })
	if got["owner"] != "1" || !idleAbout(got["idle"], time.Hour) || !strings.Contains(got["set-cookie"].(string), "Max-Age=3600") {
		t.Fatalf("ann's lifetime: %v", got)
	}
	got = check(bob, "bob", "bob", func(v map[string]any) bool { return v["_user"] == "2" })
	if !idleAbout(got["idle"], 2*time.Hour) || !strings.Contains(got["set-cookie"].(string), "Max-Age=7200") {
		t.Fatalf("bob's remember-me lifetime: %v", got)
	}
	got = check(zero, "zero", "zero", func(v map[string]any) bool { return v["_user"] == "0" })
	if got["idle"] != e.ttl.String() || strings.Contains(got["set-cookie"].(string), "Max-Age") {
		t.Fatalf("zero's browser-session cookie: %v", got)
	}
	check(changer, "changer", "zero", func(v map[string]any) bool { return v["note"] == "after the pass" })
	check(late, "late", "ann", func(v map[string]any) bool { return true }) // signed in after the pass
	check(busy, "busy", "ann", func(v map[string]any) bool { return v["n"] == float64(busyWrites) })
	if r := replay(t, goURL, quitterCookie).get(goURL + "/whoami"); r["user"] != nil || r["stored"] != false {
		t.Fatalf("signed out on Node after the pass, signed in by the copy: %v", r)
	}
	// Native from the first request: ann's devices, and revocation.
	if got := ann.get(goURL + "/sessions"); got["count"] != 3.0 { // ann, late, busy
		t.Fatalf("ann's sessions: %v", got)
	}
	if got := zero.post(goURL + "/revoke-all?user=0"); got["revoked"] != 2.0 { // zero, changer
		t.Fatalf("revoke zero: %v", got)
	}
	for _, c := range []*client{zero, changer} {
		if got := c.get(goURL + "/whoami"); got["user"] != nil {
			t.Fatalf("signed in after revoke-all: %v", got)
		}
	}

	// Sessions of users who have not come back yet, then Node stops and
	// a last pass runs: it drops the copy of the signed-out session.
	p2ann, p2bob, p2anon := newClient(t), newClient(t), newClient(t)
	login(p2ann, "ann", "pw1")
	p2ann.post(nodeURL + "/set?k=cart&v=[9]")
	login(p2bob, "bob", "pw2")
	p2anon.post(nodeURL + "/set?k=lang&v=%22fr%22")
	// From here on Node serves nothing (it is left running only because
	// the test has no use for stopping it).
	left := int64(0) // p2ann, p2bob, p2anon, the bulk, and the session Passport's logout left quitter
	for _, err := range e.express.(sessionkit.Iterator).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		left++
	}
	last := e.migrate(t, bin)
	t.Logf("last pass: %+v", last)
	if last.Read != left || last.Written != left-int64(e.bulk) || last.Written < 3 || last.Unchanged != int64(e.bulk) || last.Removed != 1 {
		t.Fatalf("last pass: %+v (want the %d new sessions written and the signed-out one's copy removed)", last, left-int64(e.bulk))
	}

	// Node is gone and the last pass ran after its last write: the copies
	// decide from now on (the express store is still given, so that what
	// is taken over is deleted there too).
	imp2, err := express.NewImporter(express.ImportOptions{
		Secrets:    []string{newSecret, oldSecret},
		Express:    e.express,
		Migrated:   e.native,
		FromCopies: true,
		TTL:        e.ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	goURL2 := nativeApp(t, e.native, imp2).URL
	// Revoking a user reaches the copies of sessions not yet upgraded.
	if n, err := e.native.DeleteUserSessions(ctx, "2"); err != nil || n != 2 { // bob's native session, p2bob's copy
		t.Fatalf("revoke bob: %d, %v", n, err)
	}
	p2annID := mustID(t, p2ann, nodeURL)
	for _, tc := range []struct {
		c    *client
		user any
		key  string
		want any
	}{
		{p2ann, "ann", "cart", "[9]"},
		{p2anon, nil, "lang", "fr"},
		{p2bob, nil, "_user", "<nil>"},   // revoked
		{quitter, nil, "_user", "<nil>"}, // the empty session Passport's logout left
	} {
		old := tc.c.cookieValue(nodeURL, express.DefaultCookieName)
		got := tc.c.get(goURL2 + "/whoami")
		if got["user"] != tc.user || fmt.Sprint(got["values"].(map[string]any)[tc.key]) != tc.want {
			t.Fatalf("from the copy: %v, want user %v and %s = %v", got, tc.user, tc.key, tc.want)
		}
		if r := replay(t, goURL2, old).get(goURL2 + "/whoami"); r["stored"] != false {
			t.Fatalf("old cookie replayed after the upgrade from the copy: %v", r)
		}
	}
	if _, err := e.express.Load(ctx, p2annID); err == nil {
		t.Fatal("taken over from its copy, still in the express store")
	}
	// The express store's sessions are deleted; a migration that runs
	// after that (by mistake) finds nothing and removes nothing.
	for ent, err := range e.express.(sessionkit.Iterator).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if err := e.express.Delete(ctx, ent.Key); err != nil {
			t.Fatal(err)
		}
	}
	if sum := e.migrate(t, bin); sum.Read != 0 || sum.Removed != 0 {
		t.Fatalf("migrate from the emptied express store: %+v", sum)
	}
	// Nothing is left of the migration but the copies of users who never
	// came back: every other copy was taken over or revoked.
	copies := 0
	for ent, err := range e.native.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (sessionkit.JSONCodec{}).Decode(ent.Record.Data); err != nil {
			t.Fatalf("undecodable record %s", ent.Key)
		}
		if bytes.Contains(ent.Record.Data, []byte(`"express":"`)) {
			copies++
			if !bytes.Contains(ent.Record.Data, []byte(`"i":`)) {
				t.Fatalf("a migrated copy is left: %s", ent.Record.Data)
			}
		}
	}
	if copies != e.bulk {
		t.Fatalf("%d copies left, want the %d of users who never came back", copies, e.bulk)
	}
}
