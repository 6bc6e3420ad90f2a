package sqlitestore

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDSN checks the connection string built for any file path: SQLite
// must read back exactly the path (it ends the file name at '?' or '#' and
// decodes %HH escapes), and the path can never reach into the pragmas.
func FuzzDSN(f *testing.F) {
	for _, p := range []string{"/tmp/sessions.db", "/tmp/q?mark.db", "/tmp/h#sh", "/tmp/100%/s.db", "/tmp/a&_pragma=x", "/tmp/%3F"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		// Open passes filepath.Abs's result, which is clean.
		path = filepath.Clean("/" + path)
		if strings.IndexByte(path, 0) >= 0 {
			return // no file can have that name
		}
		d := dsn(path, newConfig(nil))
		name, query, ok := strings.Cut(strings.TrimPrefix(d, "file:"), "?")
		// "file://" would start an authority, not a path.
		if !ok || strings.ContainsAny(name, "#") || strings.HasPrefix(name, "//") {
			t.Fatalf("dsn(%q) = %q: the name is not ended by the query", path, d)
		}
		back, err := url.PathUnescape(name)
		if err != nil || back != path {
			t.Fatalf("dsn(%q) = %q reads back as %q (%v)", path, d, back, err)
		}
		q, err := url.ParseQuery(query)
		if err != nil || len(q) != 1 || len(q["_pragma"]) != 3 {
			t.Fatalf("dsn(%q) has query %q", path, query)
		}
	})
}
