package browser

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func names(cs []*http.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"="+c.Value)
	}
	return out
}

// The jar keeps and sends cookies by RFC 6265's rules on its clock.
func TestJar(t *testing.T) {
	clock := NewClock()
	jar := NewJar(clock.Now)
	site := mustParse(t, "http://app.example/account/settings")
	secure := mustParse(t, "https://app.example/")
	jar.SetCookies(site, []*http.Cookie{
		{Name: "maxage", Value: "1", MaxAge: 60},
		{Name: "expires", Value: "1", Expires: clock.Now().Add(2 * time.Minute)},
		{Name: "both", Value: "1", MaxAge: 60, Expires: clock.Now().Add(time.Hour)}, // Max-Age wins
		{Name: "session", Value: "1"},
		{Name: "deleted", Value: "1", MaxAge: -1},
		{Name: "secure", Value: "1", Secure: true}, // refused from http
		{Name: "pathdefault", Value: "1"},
		{Name: "root", Value: "1", Path: "/"},
		{Name: "other", Value: "1", Path: "/other"},
		{Name: "foreign", Value: "1", Domain: "evil.example"},
	})
	jar.SetCookies(secure, []*http.Cookie{{Name: "secure", Value: "2", Secure: true, Path: "/"}})

	got := map[string]bool{}
	for _, n := range names(jar.Cookies(site)) {
		got[n] = true
	}
	for _, want := range []string{"maxage=1", "expires=1", "both=1", "session=1", "pathdefault=1", "root=1"} {
		if !got[want] {
			t.Errorf("cookies for %v lack %s: %v", site, want, got)
		}
	}
	for _, not := range []string{"deleted=1", "secure=1", "secure=2", "other=1", "foreign=1"} {
		if got[not] {
			t.Errorf("cookies for %v include %s", site, not)
		}
	}
	if c, ok := jar.Lookup(secure, "secure"); !ok || c.Value != "2" {
		t.Errorf("secure cookie over https = %+v, %v", c, ok)
	}
	// Cookies set without a Path get the request's directory, /account.
	if cs := names(jar.Cookies(mustParse(t, "http://app.example/"))); len(cs) != 1 || cs[0] != "root=1" {
		t.Errorf("cookies at / = %v, want only root=1", cs)
	}

	clock.Advance(61 * time.Second)
	if _, ok := jar.Lookup(site, "maxage"); ok {
		t.Error("Max-Age=60 cookie alive after 61s")
	}
	if _, ok := jar.Lookup(site, "both"); ok {
		t.Error("Max-Age did not take precedence over Expires")
	}
	if _, ok := jar.Lookup(site, "expires"); !ok {
		t.Error("Expires in 2 minutes dropped after 61s")
	}
	jar.Restart()
	if _, ok := jar.Lookup(site, "session"); ok {
		t.Error("session cookie survived a restart")
	}
	if _, ok := jar.Lookup(site, "expires"); !ok {
		t.Error("persistent cookie dropped by a restart")
	}
	// A new value replaces the old one; Max-Age=0 deletes.
	jar.SetCookies(site, []*http.Cookie{{Name: "expires", Value: "2", Path: "/account"}})
	if c, _ := jar.Lookup(site, "expires"); c.Value != "2" || !c.Expires.IsZero() {
		t.Errorf("replaced cookie = %+v", c)
	}
	jar.SetCookies(site, []*http.Cookie{{Name: "expires", MaxAge: -1, Path: "/account"}})
	if _, ok := jar.Lookup(site, "expires"); ok {
		t.Error("Max-Age=0 did not delete")
	}
}
