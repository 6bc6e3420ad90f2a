package sessionkit_test

// Outside-in checks of README.md's claims that readme_test.go does not
// cover: its links (and those of docs/*.md), the Session and Manager API it
// names, and the defaults of its "Session lifetime" table, seen over real
// HTTP against a real store.

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

var (
	fenceRE   = regexp.MustCompile("(?ms)^```.*?^```")
	inlineRE  = regexp.MustCompile("`[^`\n]*`")
	mdLinkRE  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// anchors returns the GitHub anchors of a Markdown file's headings.
func anchors(t *testing.T, md string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(md, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			case r > 127: // letters beyond ASCII stay; this repo's headings have none
				b.WriteRune(r)
			}
		}
		a := b.String()
		for n := 1; out[a]; n++ { // GitHub numbers repeated headings
			a = b.String() + "-" + string(rune('0'+n))
		}
		out[a] = true
	}
	return out
}

// Every relative link in README.md and docs/*.md names a file or directory
// that exists, and every #anchor a heading of the file it points into: a
// reader who follows one lands where the text promised.
func TestOutsiderDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	checked := 0
	for _, doc := range docs {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := inlineRE.ReplaceAllString(fenceRE.ReplaceAllString(string(src), ""), "")
		for _, m := range mdLinkRE.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			file, anchor, _ := strings.Cut(link, "#")
			target := doc
			if file != "" {
				target = filepath.Join(filepath.Dir(doc), filepath.FromSlash(file))
			}
			fi, err := os.Stat(target)
			if err != nil {
				t.Errorf("%s: link %q: %v", doc, link, err)
				continue
			}
			if anchor == "" {
				continue
			}
			if fi.IsDir() || !strings.HasSuffix(target, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", doc, link)
				continue
			}
			body, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(t, string(body))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", doc, link, target, anchor)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("found only %d relative links; the link pattern no longer matches the docs", checked)
	}
}

// "The Session API: Get[T], Set, Delete, Has, Keys, Clear, Pop[T] (flash),
// Regenerate, Destroy, Save, Reload, RememberMe(bool), SetIdleTimeout,
// SetDeadline, Touch, ID, Created, LastActive, Expires, IdleTimeout,
// Deadline, Status, IsNew, Err ... Outside a request, Manager.Load / LoadKey
// open a session by ID or store key ...; several Managers can wrap one
// handler, each finding its own session with Manager.From." Each name the
// README lists exists with that name; this does not build if one goes.
func TestOutsiderReadmeSessionAPI(t *testing.T) {
	var s *sessionkit.Session
	names := []any{
		sessionkit.Get[int], s.Set, s.Delete, s.Has, s.Keys, s.Clear, sessionkit.Pop[string],
		s.Regenerate, s.Destroy, s.Save, s.Reload, s.RememberMe, s.SetIdleTimeout, s.SetDeadline,
		s.Touch, s.ID, s.Created, s.LastActive, s.Expires, s.IdleTimeout, s.Deadline, s.Status,
		s.IsNew, s.Err,
	}
	var m *sessionkit.Manager
	names = append(names, m.Load, m.LoadKey, m.From, m.Handler)
	var _ func(bool) error = s.RememberMe // "RememberMe(bool)"
	if len(names) != 28 {
		t.Fatalf("%d names", len(names))
	}
	// "The Manager's exported fields configure lifetimes, the cookie (or a
	// header transport for API clients), signing keys, trusted proxies, the
	// error handler, an slog logger and an observer hook for metrics."
	m = sessionkit.New(nil)
	m.Transport = &sessionkit.HeaderTransport{}
	m.Cookie.Signer = nil
	m.Proxies = nil
	m.ErrorHandler = func(http.ResponseWriter, *http.Request, error) {}
	m.Logger = nil
	m.Observer = func(sessionkit.Event) {}
}

// The "Session lifetime" table's defaults: "IdleTimeout (2h; 0 = none)",
// "Lifetime after creation (24h; 0 = none)", "Persistent (true)",
// "Rolling: RollingThrottled (default)", "TouchInterval (1m ...)"; and the
// cookie a browser gets for them: "HttpOnly, SameSite=Lax, Secure on
// HTTPS", expiring with the session, on a response that is "never
// cacheable by a shared cache (Cache-Control: private ...)" and carries
// "Vary: Cookie".
func TestOutsiderReadmeLifetimeDefaults(t *testing.T) {
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := sessionkit.New(st)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"IdleTimeout", m.IdleTimeout, 2 * time.Hour},
		{"Lifetime", m.Lifetime, 24 * time.Hour},
		{"Persistent", m.Persistent, true},
		{"Rolling", m.Rolling, sessionkit.RollingThrottled},
		{"TouchInterval", m.TouchInterval, time.Minute},
	} {
		if c.got != c.want {
			t.Errorf("New(store).%s = %v, README says %v", c.name, c.got, c.want)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
	})
	for _, tls := range []bool{false, true} {
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(m.Handler(mux))
		} else {
			srv = httptest.NewServer(m.Handler(mux))
		}
		c := srv.Client()
		c.Jar, _ = cookiejar.New(nil)
		resp, err := c.Get(srv.URL + "/")
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := sessionCookie(resp, "session")
		switch {
		case ck == nil:
			t.Fatalf("tls=%v: no session cookie", tls)
		case ck.MaxAge != 7200:
			t.Errorf("tls=%v: cookie Max-Age=%d, want 7200 (the 2h idle timeout)", tls, ck.MaxAge)
		case !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode:
			t.Errorf("tls=%v: cookie %v, want HttpOnly and SameSite=Lax", tls, ck)
		case ck.Secure != tls:
			t.Errorf("tls=%v: cookie Secure=%v", tls, ck.Secure)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
			t.Errorf("tls=%v: Cache-Control %q, want private", tls, cc)
		}
		if v := resp.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Cookie") {
			t.Errorf("tls=%v: Vary %q, want Cookie", tls, v)
		}
	}
}

// The names README.md's "Sharing sessions with Node" table and the text
// under it give, as a reader would type them: this does not build if one
// is renamed or removed.
func TestOutsiderReadmeNodeNames(t *testing.T) {
	type user struct{}
	names := []any{
		koa.NewCookieMode, koa.ConfigureStore, koa.NewExternalStore, koa.ConfigureGeneric,
		redisstore.LayoutConnectRedis, redisstore.Options{NoPrefix: true, Prefix: "koa:sess:"},
		cookiesession.New, express.PassportField{},
		express.UsePassport[user], koa.UsePassport[user], cookiesession.UsePassport[user],
		koa.CookieImporter{}, cookiesession.Importer{}, express.NewImporter, express.MigratedKey,
		sessionkit.NewClientSide, storetest.Run, storetest.RunLifetime,
	}
	var _ sessionkit.Importer = (*koa.CookieImporter)(nil)
	var _ sessionkit.Importer = (*cookiesession.Importer)(nil)
	var _ sessionkit.Importer = (*express.Importer)(nil)
	var _ func(*auth.Auth[user]) = express.UsePassport[user]
	if len(names) != 18 {
		t.Fatalf("%d names", len(names))
	}
}

// Every test, benchmark and fuzz target README.md and docs/*.md name as
// the evidence for a claim (RELIABILITY.md's TestLostUpdates,
// TestHostileInput, ...) exists: a renamed or deleted test leaves no claim
// pointing at nothing.
func TestOutsiderDocsNameExistingTests(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string][]string{}
	nameRE := regexp.MustCompile(`\b(?:Test|Benchmark|Fuzz)[A-Z][A-Za-z0-9_]*`)
	for _, doc := range append(docs, "README.md") {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nameRE.FindAllString(string(src), -1) {
			named[n] = append(named[n], doc)
		}
	}
	if len(named) < 20 {
		t.Fatalf("the docs name %d tests; the pattern no longer matches", len(named))
	}
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Za-z0-9_]*)\(`)
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, docs := range named {
		if !defined[n] {
			t.Errorf("%s names %s, which no _test.go file defines", strings.Join(slices.Compact(docs), ", "), n)
		}
	}
}
