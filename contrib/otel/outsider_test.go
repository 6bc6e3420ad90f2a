package sessionotel_test

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

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionotel "github.com/sessionkit/sessionkit/contrib/otel"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/telemetrytest"
	"github.com/sessionkit/sessionkit/store/memstore"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
)

// packageDoc is the package documentation as go doc shows it.
func packageDoc(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "otel.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	return f.Doc.Text()
}

// quoted returns the "sessionkit.x" names quoted in doc between from and to.
func quoted(t *testing.T, doc, from, to string) []string {
	t.Helper()
	i := strings.Index(doc, from)
	j := strings.Index(doc[i+1:], to)
	if i < 0 || j < 0 {
		t.Fatalf("the package doc no longer has %q ... %q", from, to)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"(sessionkit\.[a-z-]+)"`).FindAllStringSubmatch(doc[i:i+1+j], -1) {
		out = append(out, m[1])
	}
	return out
}

// oldCookieImporter takes over the session an "old" cookie names.
type oldCookieImporter struct{}

func (oldCookieImporter) Import(_ context.Context, r *http.Request) (*sessionkit.Imported, error) {
	c, err := r.Cookie("old")
	if err != nil {
		return nil, nil
	}
	return &sessionkit.Imported{
		State:  sessionkit.State{Values: []sessionkit.Value{{Key: "k", JSON: []byte(`"` + c.Value + `"`)}}},
		Retire: func(context.Context) error { return nil },
	}, nil
}

func keys(set attribute.Set) []string {
	var out []string
	for _, kv := range set.ToSlice() {
		out = append(out, string(kv.Key))
	}
	slices.Sort(out)
	return out
}

// The package doc's spans, span events and metrics are what real requests
// under a request span produce, once every kind of event has happened:
// "Spans: one per store call ("sessionkit.load", "sessionkit.save",
// "sessionkit.touch", "sessionkit.delete"), of kind internal, a child of
// the span in the request's context ..., with attributes sessionkit.store,
// sessionkit.operation and sessionkit.outcome"; "Other events become span
// events on the request's span, named ... ("sessionkit.create", ...), with
// the attribute sessionkit.store"; and the metrics list, "the histogram's
// attributes are sessionkit.store, sessionkit.operation and
// sessionkit.outcome, the counters' sessionkit.store alone".
func TestOutsiderDocumentedTelemetryIsEmitted(t *testing.T) {
	doc := packageDoc(t)
	spanNames := quoted(t, doc, "Spans:", "Other events")
	eventNames := quoted(t, doc, "Other events", "with the attribute")
	metricRE := regexp.MustCompile(`(?m)^\s+(sessionkit\.[a-z._]+)\s+(histogram|counter)\b`)
	metrics := map[string]string{}
	for _, m := range metricRE.FindAllStringSubmatch(doc, -1) {
		metrics[m[1]] = m[2]
	}
	if len(spanNames) != 4 || len(eventNames) < 5 || len(metrics) < 10 {
		t.Fatalf("read %d span names, %d event names, %d metrics from the package doc; the patterns no longer match it", len(spanNames), len(eventNames), len(metrics))
	}

	p := newProviders(t)
	a := telemetrytest.NewApp(t, telemetrytest.Options{Observer: p.obs.Observe, Import: oldCookieImporter{}, Wrap: p.traced})
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
	m.Observer = p.obs.Observe
	type user struct{ ID string }
	au := auth.New(m, func(u user) string { return u.ID }, func(_ context.Context, id string) (user, error) { return user{id}, nil })
	form := httptest.NewServer(p.traced(au.Handler(&auth.FormLogin[user]{
		Auth: au,
		Verify: func(context.Context, string, string) (user, error) {
			return user{}, auth.ErrInvalidCredentials
		},
	})))
	defer form.Close()
	resp, err := http.PostForm(form.URL, url.Values{"username": {"alice"}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spanAttrs := []string{"sessionkit.operation", "sessionkit.outcome", "sessionkit.store"}
	if got := []string{string(sessionotel.OperationKey), string(sessionotel.OutcomeKey), string(sessionotel.StoreKey)}; !slices.Equal(got, spanAttrs) {
		t.Errorf("attribute keys %v, documented %v", got, spanAttrs)
	}
	requests := map[string]bool{}
	for _, s := range p.spans.Ended() {
		if strings.HasPrefix(s.Name(), "request ") {
			requests[s.SpanContext().SpanID().String()] = true
		}
	}
	seenSpans, seenEvents := map[string]bool{}, map[string]bool{}
	for _, s := range p.spans.Ended() {
		if strings.HasPrefix(s.Name(), "sessionkit.") {
			seenSpans[s.Name()] = true
			if !slices.Contains(spanNames, s.Name()) {
				t.Errorf("span %q is not in the package doc", s.Name())
			}
			if s.SpanKind() != trace.SpanKindInternal || !requests[s.Parent().SpanID().String()] {
				t.Errorf("span %s: kind %v, parent %v, want internal under a request's span", s.Name(), s.SpanKind(), s.Parent().SpanID())
			}
			if got := keys(attribute.NewSet(s.Attributes()...)); !slices.Equal(got, spanAttrs) {
				t.Errorf("span %s has attributes %v, documented %v", s.Name(), got, spanAttrs)
			}
		}
		for _, e := range s.Events() {
			if !strings.HasPrefix(e.Name, "sessionkit.") {
				continue
			}
			seenEvents[e.Name] = true
			if !strings.HasPrefix(s.Name(), "request ") {
				t.Errorf("event %s on span %q, want the request's span", e.Name, s.Name())
			}
			if got := keys(attribute.NewSet(e.Attributes...)); !slices.Equal(got, []string{"sessionkit.store"}) {
				t.Errorf("event %s has attributes %v, documented sessionkit.store alone", e.Name, got)
			}
		}
	}
	for _, n := range spanNames {
		if !seenSpans[n] {
			t.Errorf("documented span %s never ended", n)
		}
	}
	for _, n := range eventNames {
		if !seenEvents[n] {
			t.Errorf("documented span event %s never recorded", n)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			seen[mt.Name] = true
			kind, ok := metrics[mt.Name]
			if !ok {
				t.Errorf("metric %s is not in the package doc", mt.Name)
				continue
			}
			var sets []attribute.Set
			switch d := mt.Data.(type) {
			case metricdata.Histogram[float64]:
				if kind != "histogram" {
					t.Errorf("%s is a histogram, documented a %s", mt.Name, kind)
				}
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Sum[int64]:
				if kind != "counter" || !d.IsMonotonic {
					t.Errorf("%s is a sum (monotonic %v), documented a %s", mt.Name, d.IsMonotonic, kind)
				}
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			default:
				t.Errorf("%s is a %T", mt.Name, mt.Data)
			}
			want := []string{"sessionkit.store"}
			if kind == "histogram" {
				want = spanAttrs
			}
			for _, set := range sets {
				if got := keys(set); !slices.Equal(got, want) {
					t.Errorf("%s has attributes %v, documented %v", mt.Name, got, want)
				}
			}
		}
	}
	for n := range metrics {
		if !seen[n] {
			t.Errorf("documented metric %s never recorded", n)
		}
	}
}
