package sessionkit

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCacheControl: any Cache-Control a handler sets is read without a
// panic, kept as it was, and comes out forbidding shared caches to store
// the token header.
func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{
		"", "public, max-age=3600", "no-store", "private", `private="Set-Cookie"`,
		`no-cache="Set-Cookie, Foo", max-age=0`, `max-age="unterminated`, `a=b=c,,,`, `, ,private=`,
		`s-maxage=60, public`, `PRIVATE`, `no-cache="a\"b", public`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		if v != "" {
			h.Set("Cache-Control", v)
		}
		keepTokenPrivate(h, "Set-Cookie")
		got := strings.Join(h.Values("Cache-Control"), ", ")
		if _, ok := parseCacheControl(v); ok && v != "" && !strings.HasPrefix(got, v) {
			t.Fatalf("handler's Cache-Control %q became %q", v, got)
		}
		if !forbidsSharedStorage(got) {
			t.Fatalf("Cache-Control %q (from %q) lets a shared cache store Set-Cookie", got, v)
		}
	})
}

// forbidsSharedStorage reports whether v keeps shared caches from storing
// a Set-Cookie: an unqualified private or no-store, or the qualified
// private="Set-Cookie" we add (which unaware caches read as private).
func forbidsSharedStorage(v string) bool {
	for _, d := range cacheDirectives(v) {
		if d.name == "no-store" || d.name == "private" {
			return true
		}
	}
	return false
}

func TestCacheDirectives(t *testing.T) {
	tests := []struct {
		in   string
		want []cacheDirective
	}{
		{"", nil},
		{"public, max-age=60", []cacheDirective{{"public", false}, {"max-age", true}}},
		{`no-cache="Set-Cookie, Foo", private`, []cacheDirective{{"no-cache", true}, {"private", false}}},
		{`private="Set-Cookie"`, []cacheDirective{{"private", true}}},
		{`NO-STORE`, []cacheDirective{{"no-store", false}}},
		{`x="a\",private", y`, []cacheDirective{{"x", true}, {"y", false}}},
		{`, ,max-age=0,,`, []cacheDirective{{"max-age", true}}},
	}
	for _, tc := range tests {
		got := cacheDirectives(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("cacheDirectives(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("cacheDirectives(%q) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}
