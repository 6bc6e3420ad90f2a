package storeurl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// The options docs/CLI.md's store table lists ("options read by
// sessionkit"), and those README.md's store table names (auto_pipeline=true,
// near_cache=true on Redis), are accepted by Open on a real store of each
// kind, all at once, and the store answers. The table is read from the
// doc, so an option added there without a value here fails the test.
func TestOutsiderDocumentedOptionsOpen(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CLI.md"))
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile("(?m)^\\| `([a-z+]+)://[^|]*\\|[^|]*\\|([^|]*)\\|$")
	tokenRE := regexp.MustCompile("`([a-z][a-z_]*)`")
	documented := map[string][]string{}
	for _, m := range rowRE.FindAllStringSubmatch(string(doc), -1) {
		for _, tok := range tokenRE.FindAllStringSubmatch(m[2], -1) {
			if tok[1] != "full" && tok[1] != "normal" { // synchronous's values
				documented[m[1]] = append(documented[m[1]], tok[1])
			}
		}
	}
	for _, scheme := range []string{"sqlite", "bolt", "memory", "redis", "postgres", "mysql", "mongodb"} {
		if len(documented[scheme]) == 0 {
			t.Fatalf("docs/CLI.md's store table lists no options for %s://; the pattern no longer matches", scheme)
		}
	}
	// README.md: "optional auto-pipelining (auto_pipeline=true); optional
	// near cache, invalidated by Redis (near_cache=true, Redis ≥ 6)".
	documented["redis"] = append(documented["redis"], "auto_pipeline", "near_cache")

	name := "outsider_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	values := map[string]map[string]string{
		"": { // any scheme
			"table": "sk_" + name, "sweep_interval": "1m", "busy_timeout": "2s", "synchronous": "normal",
			"bucket": "outsider", "lock_timeout": "2s", "max_entries": "100", "max_bytes": "1048576",
			"prefix": "sk:" + name + ":", "dial_timeout": "2s", "read_timeout": "2s", "pool_size": "4",
			"sslmode": "disable", "pool_max_conns": "4", "collection": "sk_" + name,
			"auto_pipeline": "true", "near_cache": "true",
		},
		"redis":    {"layout": "connect-redis"},
		"postgres": {"layout": "connect-pg-simple"},
		"mongodb":  {"layout": "connect-mongo"},
	}
	dir := t.TempDir()
	bases := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "sqlite://" + filepath.Join(dir, "s.sqlite") },
		"bolt":     func(*testing.T) string { return "bolt://" + filepath.Join(dir, "s.db") },
		"memory":   func(*testing.T) string { return "memory://" },
		"redis":    func(t *testing.T) string { return testenv.Getenv(t, testenv.RedisURLEnv) },
		"postgres": func(t *testing.T) string { return testenv.Getenv(t, testenv.PostgresURLEnv) },
		"mysql":    func(t *testing.T) string { return mysqlURL(t, testenv.Getenv(t, testenv.MySQLDSNEnv)) },
		"mongodb": func(t *testing.T) string {
			return strings.TrimSuffix(testenv.Getenv(t, testenv.MongoURLEnv), "/") + "/sessionkit_outsider"
		},
	}
	for scheme, opts := range documented {
		base, ok := bases[scheme]
		if !ok {
			continue // redis+sentinel, redis+cluster: "as above"
		}
		t.Run(scheme, func(t *testing.T) {
			hasLayout := false
			for _, layout := range []bool{false, true} {
				if layout && !hasLayout {
					continue
				}
				raw := base(t)
				sep := "?"
				if strings.Contains(raw, "?") {
					sep = "&"
				}
				n := 0
				for _, o := range opts {
					if o == "layout" {
						hasLayout = true
						if !layout {
							continue
						}
					}
					v, ok := values[scheme][o]
					if !ok {
						v, ok = values[""][o]
					}
					if !ok {
						t.Fatalf("docs/CLI.md lists option %q for %s://; give it a value here", o, scheme)
					}
					raw += sep + o + "=" + v
					sep = "&"
					n++
				}
				t.Logf("Open(%s)", storeurl.Redact(raw))
				ctx := context.Background()
				st, err := storeurl.Open(ctx, raw, storeurl.Options{})
				if err != nil {
					t.Fatalf("Open(%s) with %d documented options: %v", storeurl.Redact(raw), n, err)
				}
				if _, err := st.Load(ctx, "outsider-missing-key"); !errors.Is(err, sessionkit.ErrNotFound) {
					t.Errorf("Open(%s): Load of a missing key: %v, want ErrNotFound", storeurl.Redact(raw), err)
				}
				switch d := st.(type) {
				case interface{ DropTable(context.Context) error }:
					if err := d.DropTable(ctx); err != nil {
						t.Error(err)
					}
				case *mongostore.Store:
					if err := d.Collection().Drop(ctx); err != nil {
						t.Error(err)
					}
				}
				if err := st.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
