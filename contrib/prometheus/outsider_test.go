package sessionprom_test

import (
	"context"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionprom "github.com/sessionkit/sessionkit/contrib/prometheus"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/telemetrytest"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// documentedMetrics reads the package doc's list of metrics: name → its
// labels, as "sessionkit_x_total{store,operation}" lines.
func documentedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "prometheus.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s+(sessionkit_[a-z_]+)\{([a-z,]+)\}`)
	out := map[string][]string{}
	for _, m := range re.FindAllStringSubmatch(f.Doc.Text(), -1) {
		labels := strings.Split(m[2], ",")
		slices.Sort(labels)
		out[m[1]] = labels
	}
	if len(out) < 10 {
		t.Fatalf("the package doc lists %d metrics; the pattern no longer matches it", len(out))
	}
	return out
}

// The package doc's list of metrics is what a scrape shows once every
// kind of event has happened: each metric it names is exposed, with
// exactly the labels it gives ("every one labelled by store"), and
// nothing else is. The events come from real requests: every kind of
// session use (internal/telemetrytest), a session taken over by an
// Importer, and credentials auth.FormLogin refuses.
func TestOutsiderDocumentedMetricsAreExposed(t *testing.T) {
	doc := documentedMetrics(t)
	metrics := sessionprom.New(sessionprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	a := telemetrytest.NewApp(t, telemetrytest.Options{Observer: metrics.Observe, Import: oldCookieImporter{}})
	c, err := browser.NewClient(a.Server.URL, a.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range telemetrytest.Steps() {
		a.Run(t, c, st)
	}
	req, _ := http.NewRequest("GET", a.Server.URL+"/read", nil)
	req.Header.Set("Cookie", "old=v") // taken over by the Importer
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	m := sessionkit.New(mem)
	m.Observer = metrics.Observe
	type user struct{ ID string }
	au := auth.New(m, func(u user) string { return u.ID }, func(_ context.Context, id string) (user, error) { return user{id}, nil })
	form := httptest.NewServer(au.Handler(&auth.FormLogin[user]{
		Auth: au,
		Verify: func(context.Context, string, string) (user, error) {
			return user{}, auth.ErrInvalidCredentials
		},
	}))
	defer form.Close()
	resp, err := http.PostForm(form.URL, url.Values{"username": {"alice"}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	exposed := map[string][]string{}
	for name, fam := range scrape(t, srv.URL) {
		for _, s := range fam.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName())
			}
			slices.Sort(labels)
			exposed[name] = labels
		}
	}
	for name, labels := range doc {
		got, ok := exposed[name]
		switch {
		case !ok:
			t.Errorf("documented %s%v is not exposed", name, labels)
		case !slices.Equal(got, labels):
			t.Errorf("%s has labels %v, documented %v", name, got, labels)
		}
	}
	for name := range exposed {
		if _, ok := doc[name]; !ok {
			t.Errorf("%s is exposed but not in the package doc's list", name)
		}
	}
}
