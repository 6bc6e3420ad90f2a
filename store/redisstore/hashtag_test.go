package redisstore

import (
	"strings"
	"testing"
)

func TestHashTag(t *testing.T) {
	for _, tc := range []struct{ in, tag string }{
		{"eAv6d5Wv8gqUeXqJ9kJ1cJ3mVQ2rGq0h2m6f3lq8PZs", "eAv6d5Wv8gqUeXqJ9kJ1cJ3mVQ2rGq0h2m6f3lq8PZs"},
		{"user:42", "user:42"},
		{"}{", "%7D%7B"},
		{"{brace}", "%7Bbrace%7D"},
		{"per%cent", "per%25cent"},
		{"%7D", "%257D"},
	} {
		if got := hashTag(tc.in); got != tc.tag {
			t.Errorf("hashTag(%q) = %q, want %q", tc.in, got, tc.tag)
		}
		if back, ok := fromHashTag(tc.tag); !ok || back != tc.in {
			t.Errorf("fromHashTag(%q) = %q, %v; want %q", tc.tag, back, ok, tc.in)
		}
	}
	for _, bad := range []string{"a}b", "{", "%", "%7", "%7d", "%41", "x%2"} {
		if s, ok := fromHashTag(bad); ok {
			t.Errorf("fromHashTag(%q) = %q, accepted; hashTag never produces it", bad, s)
		}
	}
}

// FuzzHashTag checks that hashTag's output never contains a brace (so a
// key's hash tag always ends where the key does) and that fromHashTag
// reads back exactly what hashTag wrote, and nothing else.
func FuzzHashTag(f *testing.F) {
	for _, s := range []string{"", "a", "}{", "{x}", "%", "%7D", "%%7B}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag := hashTag(s)
		if strings.ContainsAny(tag, "{}") {
			t.Fatalf("hashTag(%q) = %q contains a brace", s, tag)
		}
		if back, ok := fromHashTag(tag); !ok || back != s {
			t.Fatalf("fromHashTag(hashTag(%q)) = %q, %v", s, back, ok)
		}
		if back, ok := fromHashTag(s); ok && hashTag(back) != s {
			t.Fatalf("fromHashTag(%q) = %q, but hashTag of that is %q", s, back, hashTag(back))
		}
	})
}
