package auth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/auth"
)

// SafeReturnTo's promise, as a property: "Only paths that start with a
// single "/" qualify: never "//host" or "/\host" (which browsers treat as
// another site), never absolute URLs, backslashes, or control characters
// (browsers drop tabs and newlines, turning "/\t/evil" into "//evil")".
// Whatever it accepts, sent as a redirect (http.Redirect, as FormLogin
// and the authenticate handler do) and read the way a browser reads a
// Location — tabs and newlines dropped, backslashes taken as slashes —
// stays on the site.
func FuzzOutsiderSafeReturnTo(f *testing.F) {
	for _, s := range []string{
		"/", "/account", "/a?b=c#d", "//evil.example", `/\evil.example`, "/\t/evil.example",
		"https://evil.example", "/%2F%2Fevil.example", "/a/..//evil.example", "/.//evil.example",
		"/..//evil.example", "/x/../../evil.example", "/@evil.example", "/:@evil.example",
		"/%5Cevil.example", "/ /evil.example", "/\u3000/evil.example", "/?//evil.example",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/login")
	f.Fuzz(func(t *testing.T, s string) {
		rt, ok := auth.SafeReturnTo(s)
		if !ok {
			if rt != "" {
				t.Fatalf("SafeReturnTo(%q) refused but returned %q", s, rt)
			}
			return
		}
		if rt != s {
			t.Fatalf("SafeReturnTo(%q) = %q: changed", s, rt)
		}
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("POST", "https://app.example/login", nil), rt, http.StatusSeeOther)
		loc := w.Header().Get("Location")
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.Trim(loc, " \x00\x1f"))
		u, err := base.Parse(browser)
		if err != nil {
			return // a browser would not follow it either
		}
		if u.Host != "app.example" || u.Scheme != "https" {
			t.Fatalf("SafeReturnTo accepted %q; the redirect's Location %q leads to %s://%s", s, loc, u.Scheme, u.Host)
		}
		if strings.HasPrefix(browser, "//") {
			t.Fatalf("SafeReturnTo accepted %q; the Location %q is protocol-relative", s, loc)
		}
	})
}
