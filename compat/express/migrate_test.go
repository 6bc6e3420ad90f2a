package express_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The in-process half of the move off express-session: the Go app in
// express mode (goApp) on one store stands in for Node (the interop tests
// in migrate_interop_test.go do it with the real npm packages), and the
// native app (nativeApp) takes its sessions over.

func newMem(t *testing.T) *memstore.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

func newImporter(t *testing.T, o express.ImportOptions) *express.Importer {
	t.Helper()
	if o.Secrets == nil {
		o.Secrets = []string{newSecret, oldSecret}
	}
	imp, err := express.NewImporter(o)
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

// cookieValue returns the value of the cookie name the jar holds for base.
func (c *client) cookieValue(base, name string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// replay returns a client that holds nothing but the express cookie value.
func replay(t *testing.T, base, value string) *client {
	c := newClient(t)
	c.setCookie(base, value)
	return c
}

type passCounts map[express.Outcome]int

func (p passCounts) String() string {
	var b strings.Builder
	for o := express.MigrateWritten; o <= express.MigrateEnded; o++ {
		fmt.Fprintf(&b, "%s=%d ", o, p[o])
	}
	return b.String()
}

// migratePass runs one complete pass of mg and removes the stale copies,
// as the sessionkit command does; it returns the outcomes and the number
// of copies removed.
func migratePass(t *testing.T, mg *express.Migrator) (passCounts, int) {
	t.Helper()
	ctx := context.Background()
	counts := passCounts{}
	for e, err := range mg.From.(sessionkit.Iterator).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		o, err := mg.Copy(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		counts[o]++
	}
	var stale []string
	for e, err := range mg.To.(sessionkit.Iterator).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if mg.Stale(e) {
			stale = append(stale, e.Key)
		}
	}
	if !mg.DryRun {
		for _, k := range stale {
			if err := mg.To.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	return counts, len(stale)
}

func wantCounts(t *testing.T, got passCounts, want passCounts) {
	t.Helper()
	for o := express.MigrateWritten; o <= express.MigrateEnded; o++ {
		if got[o] != want[o] {
			t.Fatalf("pass: %v, want %v", got, want)
		}
	}
}

// While the express store is still there, it decides: the native app
// takes over what it holds now, the user stays signed in with everything
// they had, and the old cookie is dead on both sides afterwards.
func TestImportFromExpressStore(t *testing.T) {
	ctx := context.Background()
	old, native := newMem(t), newMem(t)
	expressURL := goApp(t, old).URL
	nativeURL := nativeApp(t, native, newImporter(t, express.ImportOptions{Express: old, Migrated: native})).URL

	c := newClient(t)
	c.post(expressURL + "/login?id=1")
	c.post(expressURL + "/set?k=cart&v=" + url.QueryEscape(`[1,{"sku":"<a>"}]`))
	c.post(expressURL + "/maxage?d=2h")
	oldCookie := c.cookieValue(expressURL, express.DefaultCookieName)
	signer, _ := express.NewSigner(newSecret)
	id, _ := signer.Verify(oldCookie)

	got := c.get(nativeURL + "/whoami")
	values := got["values"].(map[string]any)
	if got["user"] != "ann" || got["owner"] != "1" || got["idle"] != "2h0m0s" {
		t.Fatalf("imported session: %v", got)
	}
	if values["_user"] != "1" || fmt.Sprint(values["cart"]) != "[1 map[sku:<a>]]" || values["passport"] != nil || values["cookie"] != nil {
		t.Fatalf("imported values: %v", values)
	}
	if v := c.cookieValue(nativeURL, express.DefaultCookieName); v != "" {
		t.Fatalf("connect.sid still held after the upgrade: %q", v)
	}
	if c.cookieValue(nativeURL, "session") == "" {
		t.Fatal("no native cookie after the upgrade")
	}
	if _, err := old.Load(ctx, id); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("the express session is still there after the upgrade: %v", err)
	}
	// Native from now on: the per-user index has it, the user stays in.
	if got := c.get(nativeURL + "/sessions"); got["count"] != 1.0 {
		t.Fatalf("sessions of the user: %v", got)
	}
	c.post(nativeURL + "/set?k=n&v=2")
	if got := c.get(nativeURL + "/whoami"); got["user"] != "ann" || got["values"].(map[string]any)["n"] != 2.0 {
		t.Fatalf("after a native write: %v", got)
	}
	// The old cookie is dead on both sides.
	if got := replay(t, nativeURL, oldCookie).get(nativeURL + "/whoami"); got["user"] != nil || got["stored"] != false {
		t.Fatalf("old cookie replayed on the native app: %v", got)
	}
	if got := replay(t, expressURL, oldCookie).get(expressURL + "/whoami"); got["user"] != nil || got["stored"] != false {
		t.Fatalf("old cookie replayed on the express app: %v", got)
	}
	// Revocation reaches the upgraded session.
	if got := c.post(nativeURL + "/revoke-all?user=1"); got["revoked"] != 1.0 {
		t.Fatalf("revoke-all: %v", got)
	}
	if got := c.get(nativeURL + "/whoami"); got["user"] != nil {
		t.Fatalf("signed in after revoke-all: %v", got)
	}

	// A sign-out on the express side is never undone, whatever copy a
	// migration made before it.
	d := newClient(t)
	d.post(expressURL + "/login?id=2")
	mg := &express.Migrator{From: old, To: native}
	counts, _ := migratePass(t, mg)
	wantCounts(t, counts, passCounts{express.MigrateWritten: 1})
	dOld := d.cookieValue(expressURL, express.DefaultCookieName)
	d.post(expressURL + "/logout")
	if got := replay(t, nativeURL, dOld).get(nativeURL + "/whoami"); got["user"] != nil {
		t.Fatalf("signed out on the express side, signed in by its copy: %v", got)
	}
}

// Once the express store is gone, the copies a migration made are what
// the native app takes over; each pass brings them up to date and drops
// those of sessions that ended.
func TestImportFromMigratedCopies(t *testing.T) {
	ctx := context.Background()
	old, native := newMem(t), newMem(t)
	expressURL := goApp(t, old).URL

	ann, bob, anon, gone := newClient(t), newClient(t), newClient(t), newClient(t)
	ann.post(expressURL + "/login?id=1")
	ann.post(expressURL + "/maxage?d=3h")
	bob.post(expressURL + "/login?id=2")
	anon.post(expressURL + "/set?k=theme&v=%22dark%22")
	gone.post(expressURL + "/login?id=0")

	start := time.Now()
	mg := &express.Migrator{From: old, To: native}
	counts, stale := migratePass(t, mg)
	wantCounts(t, counts, passCounts{express.MigrateWritten: 4})
	if stale != 0 {
		t.Fatalf("first pass: %d stale", stale)
	}
	byUser, err := native.UserSessions(ctx, "1")
	if err != nil || len(byUser) != 1 || byUser[0].Key != express.MigratedKey(mustID(t, ann, expressURL)) {
		t.Fatalf("the copy is not in the native per-user index: %v %v", byUser, err)
	}

	// Repeat: nothing to do. Then the Node side writes and signs out.
	counts, stale = migratePass(t, &express.Migrator{From: old, To: native})
	wantCounts(t, counts, passCounts{express.MigrateUnchanged: 4})
	if stale != 0 {
		t.Fatalf("second pass: %d stale", stale)
	}
	bob.post(expressURL + "/set?k=cart&v=[7]")
	goneCookie := gone.cookieValue(expressURL, express.DefaultCookieName)
	gone.post(expressURL + "/logout")
	counts, stale = migratePass(t, &express.Migrator{From: old, To: native})
	wantCounts(t, counts, passCounts{express.MigrateUnchanged: 2, express.MigrateUpdated: 1})
	if stale != 1 {
		t.Fatalf("the copy of the signed-out session was not found stale (%d)", stale)
	}

	// The express store is retired: copies only.
	cookies := map[*client]string{}
	for _, c := range []*client{ann, bob, anon} {
		cookies[c] = c.cookieValue(expressURL, express.DefaultCookieName)
	}
	nativeURL := nativeApp(t, native, newImporter(t, express.ImportOptions{Migrated: native})).URL
	got := ann.get(nativeURL + "/whoami")
	if got["user"] != "ann" || got["idle"] != "3h0m0s" || got["owner"] != "1" {
		t.Fatalf("ann from the copy: %v", got)
	}
	if created := time.UnixMilli(int64(got["created"].(float64))); created.Before(start.Add(-time.Second)) || created.After(start.Add(5*time.Second)) {
		t.Fatalf("created %v: want the first pass's time %v", created, start)
	}
	if got := bob.get(nativeURL + "/whoami"); got["user"] != "bob" || fmt.Sprint(got["values"].(map[string]any)["cart"]) != "[7]" {
		t.Fatalf("bob from the copy (changed after the first pass): %v", got)
	}
	if got := anon.get(nativeURL + "/whoami"); got["user"] != nil || got["values"].(map[string]any)["theme"] != "dark" || got["idle"] != "1h0m0s" {
		t.Fatalf("anonymous session from the copy: %v", got)
	}
	for c, v := range cookies {
		if got := replay(t, nativeURL, v).get(nativeURL + "/whoami"); got["stored"] != false {
			t.Fatalf("old cookie of %v replayed after the upgrade: %v", c, got)
		}
		if _, err := native.Load(ctx, express.MigratedKey(mustVerify(t, v))); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("the copy outlived the upgrade: %v", err)
		}
	}
	if got := replay(t, nativeURL, goneCookie).get(nativeURL + "/whoami"); got["stored"] != false || got["user"] != nil {
		t.Fatalf("signed out before the last pass, signed in by a copy: %v", got)
	}
}

func mustVerify(t *testing.T, cookie string) string {
	t.Helper()
	s, _ := express.NewSigner(newSecret)
	id, ok := s.Verify(cookie)
	if !ok {
		t.Fatalf("cookie %q does not verify", cookie)
	}
	return id
}

func mustID(t *testing.T, c *client, base string) string {
	return mustVerify(t, c.cookieValue(base, express.DefaultCookieName))
}

// hookStore runs a function before each Save.
type hookStore struct {
	sessionkit.Store
	beforeSave func()
}

func (h *hookStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if h.beforeSave != nil {
		h.beforeSave()
	}
	return h.Store.Save(ctx, key, rec)
}

func expressData(exp time.Time, maxAge string, rest string) []byte {
	expires := "null"
	if maxAge != "null" {
		expires = `"` + exp.UTC().Format("2006-01-02T15:04:05.000Z") + `"`
	}
	return []byte(`{"cookie":{"originalMaxAge":` + maxAge + `,"expires":` + expires + `,"httpOnly":true,"path":"/"}` + rest + `}`)
}

func TestMigratorOutcomes(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(time.Hour)
	entry := func(id string, data []byte, exp time.Time) sessionkit.Entry {
		return sessionkit.Entry{Key: id, Record: sessionkit.Record{Data: data, Expiry: exp}}
	}
	seed := func(t *testing.T, s sessionkit.Store, e sessionkit.Entry) {
		if _, err := s.Save(ctx, e.Key, e.Record); err != nil {
			t.Fatal(err)
		}
	}
	loadCopy := func(t *testing.T, s sessionkit.Store, id string) (sessionkit.Record, sessionkit.State) {
		t.Helper()
		rec, err := s.Load(ctx, express.MigratedKey(id))
		if err != nil {
			t.Fatalf("copy of %s: %v", id, err)
		}
		st, err := sessionkit.JSONCodec{}.Decode(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		return rec, st
	}

	t.Run("WrittenThenUnchangedThenUpdated", func(t *testing.T) {
		from, to := newMem(t), newMem(t)
		e := entry("a", expressData(exp, "3600000", `,"passport":{"user":{"id":7}},"n":1`), exp)
		seed(t, from, e)
		mg := &express.Migrator{From: from, To: to, Now: func() time.Time { return now }}
		if o, err := mg.Copy(ctx, e); o != express.MigrateWritten || err != nil {
			t.Fatalf("first copy: %v %v", o, err)
		}
		rec, st := loadCopy(t, to, "a")
		if rec.UserKey != `{"id":7}` || !rec.Expiry.Equal(exp) || !st.Persistent || st.IdleTimeout != time.Hour || !st.Created.Equal(now) {
			t.Fatalf("copy: %+v %+v", rec, st)
		}
		if o, _ := mg.Copy(ctx, e); o != express.MigrateUnchanged {
			t.Fatalf("same session again: %v", o)
		}
		// Node touched it: only the expiry moves.
		later := exp.Add(time.Minute)
		e.Record.Expiry = later
		mg2 := &express.Migrator{From: from, To: to, Now: func() time.Time { return now.Add(time.Minute) }}
		if o, _ := mg2.Copy(ctx, e); o != express.MigrateUpdated {
			t.Fatalf("touched session: %v", o)
		}
		if rec, _ := loadCopy(t, to, "a"); !rec.Expiry.Equal(later) {
			t.Fatalf("expiry %v, want %v", rec.Expiry, later)
		}
		// Node changed it: rewritten, created kept.
		e.Record.Data = expressData(later, "3600000", `,"passport":{"user":{"id":7}},"n":2`)
		if o, _ := mg2.Copy(ctx, e); o != express.MigrateUpdated {
			t.Fatalf("changed session: %v", o)
		}
		_, st = loadCopy(t, to, "a")
		if n, _ := json.Marshal(st.Values); !strings.Contains(string(n), `"JSON":2`) || !st.Created.Equal(now) {
			t.Fatalf("rewritten copy: %s created %v", n, st.Created)
		}
	})
	t.Run("Skipped", func(t *testing.T) {
		from, to := newMem(t), newMem(t)
		mg := &express.Migrator{From: from, To: to}
		if o, _ := mg.Copy(ctx, entry("x", expressData(exp, "1", ""), now.Add(-time.Second))); o != express.MigrateExpired {
			t.Fatalf("expired: %v", o)
		}
		for _, data := range []string{
			`{"values":{}}`, `not json`, `{"cookie":{"originalMaxAge":null},"passport":{"user":[}`,
			// koa-generic-session + koa-redis under the same store: its
			// cookie object has maxAge, never express-session's
			// originalMaxAge, and its koa.sid cookie no Importer reads.
			`{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":3600000},"passport":{"user":1}}`,
		} {
			if o, _ := mg.Copy(ctx, entry("y", []byte(data), exp)); o != express.MigrateUnreadable {
				t.Fatalf("%s: %v", data, o)
			}
		}
		for _, err := range to.All(ctx) {
			t.Fatalf("skipped sessions were copied (%v)", err)
		}
	})
	t.Run("EndedDuringTheCopy", func(t *testing.T) {
		from, mem := newMem(t), newMem(t)
		e := entry("a", expressData(exp, "3600000", `,"passport":{"user":1}`), exp)
		seed(t, from, e)
		// The user signs out (or an Importer takes the session over)
		// between the read and the write.
		to := &hookStore{Store: mem, beforeSave: func() { from.Delete(ctx, "a") }}
		if o, err := (&express.Migrator{From: from, To: to}).Copy(ctx, e); o != express.MigrateEnded || err != nil {
			t.Fatalf("copy of a session that ended: %v %v", o, err)
		}
		if _, err := mem.Load(ctx, express.MigratedKey("a")); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("the copy of an ended session is still there: %v", err)
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		from, to := newMem(t), newMem(t)
		e := entry("a", expressData(exp, "null", `,"n":1`), exp)
		seed(t, from, e)
		if o, _ := (&express.Migrator{From: from, To: to, DryRun: true}).Copy(ctx, e); o != express.MigrateWritten {
			t.Fatalf("dry run: %v", o)
		}
		for _, err := range to.All(ctx) {
			t.Fatalf("a dry run wrote (%v)", err)
		}
	})
	t.Run("BrowserSessionCookie", func(t *testing.T) {
		from, to := newMem(t), newMem(t)
		e := entry("a", expressData(exp, "null", `,"passport":{"user":"u","other":1}`), exp)
		seed(t, from, e)
		mg := &express.Migrator{From: from, To: to, TTL: 14 * 24 * time.Hour, UserField: "uid"}
		if o, _ := mg.Copy(ctx, e); o != express.MigrateWritten {
			t.Fatalf("copy: %v", o)
		}
		rec, st := loadCopy(t, to, "a")
		vals := map[string]string{}
		for _, v := range st.Values {
			vals[v.Key] = string(v.JSON)
		}
		if st.Persistent || st.IdleTimeout != 14*24*time.Hour || rec.UserKey != "u" || vals["uid"] != `"u"` || vals["passport"] != `{"other":1}` {
			t.Fatalf("copy: %+v %v %v", st, vals, rec.UserKey)
		}
	})
	t.Run("NativeSessionsAreNeverStale", func(t *testing.T) {
		from, to := newMem(t), newMem(t)
		data, _ := sessionkit.JSONCodec{}.Encode(&sessionkit.State{Created: now, LastActive: now, Values: []sessionkit.Value{{Key: "express", JSON: []byte(`"x"`)}}})
		seed(t, to, entry("native", data, exp))
		seed(t, from, entry("a", expressData(exp, "1000", ""), exp))
		mg := &express.Migrator{From: from, To: to}
		_, stale := migratePass(t, mg)
		if stale != 0 {
			t.Fatalf("%d stale after one pass over one session", stale)
		}
		if _, err := to.Load(ctx, "native"); err != nil {
			t.Fatalf("a native session was removed: %v", err)
		}
	})
}

// A migration pass and the upgrade of the same session, racing: whichever
// order they meet in, the old ID is dead afterwards (no copy survives the
// import) and the user is signed in natively.
func TestMigrateRacesImport(t *testing.T) {
	ctx := context.Background()
	old, native := newMem(t), newMem(t)
	nativeURL := nativeApp(t, native, newImporter(t, express.ImportOptions{Express: old, Migrated: native})).URL
	signer, _ := express.NewSigner(newSecret)
	exp := time.Now().Add(time.Hour)
	for i := range 200 {
		id := fmt.Sprintf("race-%03d-%s", i, strings.Repeat("x", 20))
		e := sessionkit.Entry{Key: id, Record: sessionkit.Record{Data: expressData(exp, "3600000", `,"passport":{"user":1}`), Expiry: exp, UserKey: "1"}}
		if _, err := old.Save(ctx, id, e.Record); err != nil {
			t.Fatal(err)
		}
		c := replay(t, nativeURL, signer.Sign(id))
		var wg sync.WaitGroup
		var user any
		var copyErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, copyErr = (&express.Migrator{From: old, To: native}).Copy(ctx, e)
		}()
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", nativeURL+"/whoami", nil)
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			var m map[string]any
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			user = m["user"]
		}()
		wg.Wait()
		if copyErr != nil {
			t.Fatal(copyErr)
		}
		if user != "ann" {
			t.Fatalf("round %d: user %v after the upgrade", i, user)
		}
		if _, err := native.Load(ctx, express.MigratedKey(id)); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("round %d: a copy survived the upgrade (%v)", i, err)
		}
	}
}

// With FromCopies, the copies decide even while the express store still
// holds the sessions: a copy revoked on the native side is not imported,
// and what is imported is deleted from the express store too, so a later
// migration cannot copy it back.
func TestImportFromCopiesWhileExpressRemains(t *testing.T) {
	ctx := context.Background()
	old, native := newMem(t), newMem(t)
	expressURL := goApp(t, old).URL
	ann, bob := newClient(t), newClient(t)
	ann.post(expressURL + "/login?id=1")
	bob.post(expressURL + "/login?id=2")
	counts, _ := migratePass(t, &express.Migrator{From: old, To: native})
	wantCounts(t, counts, passCounts{express.MigrateWritten: 2})
	annCookie, bobID := ann.cookieValue(expressURL, express.DefaultCookieName), mustID(t, bob, expressURL)

	if _, err := express.NewImporter(express.ImportOptions{Secrets: []string{newSecret}, Express: old, FromCopies: true}); err == nil {
		t.Fatal("FromCopies without the Migrated store was accepted")
	}
	nativeURL := nativeApp(t, native, newImporter(t, express.ImportOptions{Express: old, Migrated: native, FromCopies: true})).URL
	if n, err := native.DeleteUserSessions(ctx, "2"); err != nil || n != 1 {
		t.Fatalf("revoke bob's copy: %d %v", n, err)
	}
	if got := bob.get(nativeURL + "/whoami"); got["user"] != nil || got["stored"] != false {
		t.Fatalf("revoked on the native side, imported from the express store: %v", got)
	}
	if _, err := old.Load(ctx, bobID); err != nil {
		t.Fatalf("bob's express session: %v", err)
	}
	if got := ann.get(nativeURL + "/whoami"); got["user"] != "ann" {
		t.Fatalf("ann from her copy: %v", got)
	}
	if _, err := old.Load(ctx, mustVerify(t, annCookie)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("imported from the copy, still in the express store: %v", err)
	}
	migratePass(t, &express.Migrator{From: old, To: native})
	if got := replay(t, nativeURL, annCookie).get(nativeURL + "/whoami"); got["stored"] != false {
		t.Fatalf("a migration after the import brought the old cookie back: %v", got)
	}
}
