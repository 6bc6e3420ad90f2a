package storeurl_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/store/storeurl"
)

// FuzzCheck feeds arbitrary URLs to the parser, as an operator's flag or
// environment variable could: Check never panics, every error it returns
// wraps ErrBadURL and begins with "storeurl:", and for the file schemes
// an accepted URL names a non-empty path without NUL bytes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"sqlite://sessions.db",
		"sqlite:///var/lib/app/s%20x.db?table=t&busy_timeout=2s&synchronous=normal&sweep_interval=off",
		"sqlite://x.db?table=a-b",
		"sqlite://%zz",
		"bolt:///tmp/x.db?bucket=b&lock_timeout=1s",
		"memory://?max_entries=10",
		"redis://:pw@h:6379/0?prefix=p:",
		"postgres://u:pw@h/db?table=t",
		"mysql://u@h/db?table=t",
		"mongodb://h/db?collection=c",
		"",
		"://",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := storeurl.Check(raw)
		if err != nil {
			if !errors.Is(err, storeurl.ErrBadURL) {
				t.Fatalf("Check(%q) = %v, not ErrBadURL", raw, err)
			}
			if !strings.HasPrefix(err.Error(), "storeurl: ") {
				t.Fatalf("Check(%q) error %q lacks the prefix", raw, err)
			}
			return
		}
		switch storeurl.Scheme(raw) {
		case "sqlite", "bolt":
			_, rest, _ := strings.Cut(raw, "://")
			rest, _, _ = strings.Cut(rest, "?")
			path, perr := url.PathUnescape(rest)
			if perr != nil || path == "" || strings.IndexByte(path, 0) >= 0 {
				t.Fatalf("Check(%q) accepted the path %q (%v)", raw, path, perr)
			}
		}
	})
}
