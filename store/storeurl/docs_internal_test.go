package storeurl

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sectionRE matches the line of doc.go that starts a scheme's section.
var sectionRE = regexp.MustCompile(`^// ([a-z+]+)://`)

// The package documentation lists exactly the options the parser reads,
// under each scheme, and every option of redisstore.ParseURL it names is
// one the Redis parser knows.
func TestDocListsOptions(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	documented := map[storeKind]map[string]bool{}
	k := kindUnknown
	row := regexp.MustCompile(`^//\t([a-z_]+(?:, [a-z_]+)*)(?:\s{2,}|$)`)
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "// # ") && k != kindUnknown {
			break // the sections end at the next heading
		}
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			if k = kind(m[1]); k == kindUnknown {
				t.Errorf("doc.go: a section for the unknown scheme %s://", m[1])
			}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && k != kindUnknown {
			if documented[k] == nil {
				documented[k] = map[string]bool{}
			}
			for _, name := range strings.Split(m[1], ", ") {
				documented[k][name] = true
			}
		}
	}
	for k, own := range ownParams {
		want := slices.Sorted(slices.Values(own))
		got := slices.Sorted(maps.Keys(documented[k]))
		if !slices.Equal(got, want) {
			t.Errorf("doc.go documents %v for %s, the parser reads %v", got, exampleURL[k], want)
		}
	}

	m := regexp.MustCompile(`(?s)redisstore\.ParseURL's:(.*?)\.\n`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("doc.go no longer lists redisstore.ParseURL's options")
	}
	for _, name := range regexp.MustCompile(`[a-z_]+`).FindAllString(strings.ReplaceAll(m[1], "//", ""), -1) {
		checkKnown(t, "doc.go", kindRedis, "redis+sentinel", name)
	}
}

// exampleURL is a valid URL of each kind, without options.
var exampleURL = map[storeKind]string{
	kindMemory:   "memory://",
	kindBolt:     "bolt://sessions.db",
	kindSQLite:   "sqlite://sessions.sqlite",
	kindRedis:    "redis://localhost:6379/0",
	kindPostgres: "postgres://app@localhost/app",
	kindMySQL:    "mysql://app@localhost/app",
	kindMongo:    "mongodb://localhost/app",
}

// checkKnown fails unless the URL parser of scheme knows option name: a
// URL with it may be refused for its value, never as an unknown option.
func checkKnown(t *testing.T, where string, k storeKind, scheme, name string) {
	t.Helper()
	base := strings.Replace(exampleURL[k], Scheme(exampleURL[k]), scheme, 1)
	if k == kindRedis && strings.Contains(scheme, "sentinel") {
		base = scheme + "://localhost:26379/mymaster/0"
	}
	if k == kindRedis && strings.Contains(scheme, "cluster") {
		base = scheme + "://localhost:7000"
	}
	for _, v := range []string{"1", "1s", "true", "native", "full", "x"} {
		err := Check(base + "?" + name + "=" + v)
		if err == nil || !strings.Contains(err.Error(), "unknown option") {
			return
		}
	}
	t.Errorf("%s: option %s of %s:// is unknown to the parser", where, name, scheme)
}

// The table of URLs in docs/CLI.md names, for each scheme, options this
// package reads, then ("plus ...") options of the store's own parser;
// all of them exist.
func TestCLIDocOptions(t *testing.T) {
	src, err := os.ReadFile("../../docs/CLI.md")
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile("^\\| `([a-z+]+)://")
	nameRE := regexp.MustCompile("`([a-z_]+)`")
	rows := 0
	for i, line := range strings.Split(string(src), "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		where := "docs/CLI.md:" + strconv.Itoa(i+1)
		scheme := m[1]
		k := kind(scheme)
		if k == kindUnknown {
			t.Errorf("%s: unknown scheme %s://", where, scheme)
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 4 {
			t.Errorf("%s: want 3 columns", where)
			continue
		}
		opts := regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(cols[3], "") // values, in parentheses
		own, theirs := opts, ""
		if j := strings.Index(opts, "plus"); j >= 0 {
			own, theirs = opts[:j], opts[j:]
		}
		if j := strings.Index(own, "the rest"); j >= 0 {
			own = own[:j] // the driver's, which accepts anything
		}
		for _, n := range nameRE.FindAllStringSubmatch(own, -1) {
			if !slices.Contains(ownParams[k], n[1]) {
				t.Errorf("%s: %s is not an option storeurl reads for %s:// (it reads %v)", where, n[1], scheme, ownParams[k])
			}
		}
		for _, n := range nameRE.FindAllStringSubmatch(theirs, -1) {
			checkKnown(t, where, k, scheme, n[1])
		}
	}
	if rows == 0 {
		t.Fatal("docs/CLI.md has no table of store URLs")
	}
}
