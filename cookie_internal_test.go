package sessionkit

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSetCookieLikeNetHTTP: setCookie writes exactly the Set-Cookie
// header http.SetCookie writes, for the cookies it builds itself and for
// those it leaves to net/http, and builds the Manager's cookies itself.
func TestSetCookieLikeNetHTTP(t *testing.T) {
	def := DefaultCookie()
	now := time.Date(2026, 12, 2, 17, 4, 5, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	type tc struct {
		name string
		ck   http.Cookie
		fast bool // setCookie must build it itself
	}
	cases := []tc{
		{"default", *def.cookie(false, "abc-_DEF123"), true},
		{"default persistent", func() http.Cookie {
			c := *def.cookie(true, "abc")
			c.Expires, c.MaxAge = now.Add(2*time.Hour), 7200
			return c
		}(), true},
		{"cleared", http.Cookie{Name: "session", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}, true},
		{"empty value", http.Cookie{Name: "s", Value: ""}, true},
		{"all flags", http.Cookie{Name: "__Host-s", Value: "v", Path: "/a/b", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode, Partitioned: true, MaxAge: 1}, true},
		{"strict", http.Cookie{Name: "s", Value: "v", SameSite: http.SameSiteStrictMode}, true},
		{"default samesite", http.Cookie{Name: "s", Value: "v", SameSite: http.SameSiteDefaultMode}, true},
		{"unknown samesite", http.Cookie{Name: "s", Value: "v", SameSite: 42}, true},
		{"expires in a zone", http.Cookie{Name: "s", Value: "v", Expires: time.Date(2030, 1, 9, 0, 30, 0, 0, paris)}, true},
		{"expires 1601", http.Cookie{Name: "s", Value: "v", Expires: time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"expires 1600", http.Cookie{Name: "s", Value: "v", Expires: time.Date(1600, 12, 31, 23, 59, 59, 0, time.UTC)}, true},
		{"expires 9999", http.Cookie{Name: "s", Value: "v", Expires: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, true},
		{"expires 10000", http.Cookie{Name: "s", Value: "v", Expires: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"domain", http.Cookie{Name: "s", Value: "v", Domain: ".example.com"}, false},
		{"bad domain", http.Cookie{Name: "s", Value: "v", Domain: "exa mple"}, false},
		{"value with space", http.Cookie{Name: "s", Value: "a b"}, false},
		{"value with comma", http.Cookie{Name: "s", Value: "a,b"}, false},
		{"quoted", http.Cookie{Name: "s", Value: "v", Quoted: true}, false},
		{"bad value", http.Cookie{Name: "s", Value: "a;b"}, false},
		{"bad path", http.Cookie{Name: "s", Value: "v", Path: "/a;b"}, false},
		{"bad name", http.Cookie{Name: "s s", Value: "v"}, false},
		{"no name", http.Cookie{Value: "v"}, false},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		// Times all over the four-digit years, with every weekday,
		// month and clock digit.
		sec := rng.Int64N(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()-time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) +
			time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		cases = append(cases, tc{"random time", http.Cookie{Name: "s", Value: "v", Expires: time.Unix(sec, 0), MaxAge: i}, true})
	}
	for _, c := range cases {
		want := httptest.NewRecorder()
		http.SetCookie(want, &c.ck)
		got := httptest.NewRecorder()
		setCookie(got, &c.ck)
		if g, w := got.Header()["Set-Cookie"], want.Header()["Set-Cookie"]; len(g) != len(w) || (len(g) == 1 && g[0] != w[0]) {
			t.Errorf("%s: setCookie wrote %q, http.SetCookie %q", c.name, g, w)
		}
		if _, fast := cookieString(&c.ck); fast != c.fast {
			t.Errorf("%s: built by setCookie itself: %v, want %v", c.name, fast, c.fast)
		}
	}
}
