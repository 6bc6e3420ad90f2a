package doccheck

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/store/storeurl"
)

var storeURLRE = regexp.MustCompile(`\b(?:memory|bolt|sqlite|rediss?(?:\+sentinel|\+cluster)?|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?)://[^\s'"` + "`" + `<>()|]*`)

// Every store URL the README and docs/*.md show (in prose or code) is
// one storeurl.Open accepts: its scheme, its form and its options.
// Bare schemes ("redis://") and templates (with [optional] parts, ...,
// :port or upper-case placeholders) are left out.
func TestDocStoreURLs(t *testing.T) {
	root := moduleRoot(t)
	n := 0
	for _, l := range docLines(t, root) {
		f, i, line := l.file, l.index, l.text
		for _, u := range storeURLRE.FindAllString(line, -1) {
			u = strings.TrimRight(u, ".,;:")
			if strings.HasSuffix(u, "://") || strings.ContainsAny(u, "[]…") || strings.Contains(u, "...") ||
				strings.Contains(u, ":port") || regexp.MustCompile(`[A-Z]{2,}`).MatchString(u) {
				continue
			}
			n++
			if err := storeurl.Check(u); err != nil {
				t.Errorf("%s:%d: %s: %v", f, i+1, u, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no store URL found in the docs")
	}
	t.Logf("%d store URLs checked", n)
}
