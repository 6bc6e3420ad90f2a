package redisstore

import (
	"slices"
	"testing"
)

// TestScriptKeys: the keys the scripts get, cut from one string, are
// RecordKey and releasedKey, whatever the prefix and the session key.
func TestScriptKeys(t *testing.T) {
	for _, prefix := range []string{DefaultPrefix, "app:", "x"} {
		s := &Store{prefix: prefix}
		for _, key := range []string{"k", "abc-_DEF", "a{b}c", "%7B", "100%", "ünï"} {
			got := s.scriptKeys(key)
			want := []string{s.RecordKey(key), s.releasedKey(key)}
			if !slices.Equal(got, want) {
				t.Errorf("prefix %q, key %q: scriptKeys = %q, want %q", prefix, key, got, want)
			}
		}
	}
}
