package sessionprom_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/sessionkit/sessionkit"
	sessionprom "github.com/sessionkit/sessionkit/contrib/prometheus"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/telemetrytest"
)

// series flattens gathered families into "name{label=value,...}" → value,
// the histogram as its _count; the store label is left out (every series
// here has store="memstore", checked separately).
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if l.GetName() == "store" {
					if l.GetValue() != "memstore" {
						t.Errorf("%s has store=%q, want memstore", mf.GetName(), l.GetValue())
					}
					continue
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[strings.Replace(name, "_seconds", "_seconds_count", 1)] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func diff(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// ops returns the expected deltas of store calls: "load ok" and the like.
func ops(calls ...string) map[string]float64 {
	d := map[string]float64{}
	for _, c := range calls {
		op, outcome, _ := strings.Cut(c, " ")
		labels := "{operation=" + op + ",outcome=" + outcome + "}"
		d["sessionkit_store_operations_total"+labels]++
		d["sessionkit_store_operation_duration_seconds_count"+labels]++
	}
	return d
}

func with(d map[string]float64, counters ...string) map[string]float64 {
	for _, c := range counters {
		d["sessionkit_"+c]++
	}
	return d
}

// TestRequestCounts drives each kind of request through a Manager and
// checks that the scraped metrics change by exactly what the package doc
// says that request causes, and by nothing else.
func TestRequestCounts(t *testing.T) {
	want := map[string]map[string]float64{
		"untouched read":          {},
		"create":                  with(ops("save ok"), "sessions_created_total"),
		"read":                    ops("load ok"),
		"write":                   ops("load ok", "save ok"),
		"touch":                   with(ops("load ok", "touch ok"), "touches_total"),
		"refused touch":           with(ops("load ok", "touch error"), "errors_total"),
		"regenerate":              with(ops("load ok", "save ok", "load ok", "delete ok"), "sessions_regenerated_total"), // the second load checks the old record
		"conflict then retry":     with(ops("load ok", "save conflict", "load ok", "save ok"), "save_conflicts_total"),
		"retries exhausted":       with(ops("load ok", "save conflict", "load ok", "save conflict", "load ok", "save conflict"), "save_conflicts_total", "save_conflicts_total", "save_conflicts_total", "save_retries_exhausted_total", "errors_total"),
		"too large":               with(ops("load ok"), "errors_total"),
		"load error":              with(ops("load error"), "errors_total"),
		"save error":              with(ops("load ok", "save error"), "errors_total"),
		"destroy":                 with(ops("load ok", "delete ok"), "sessions_destroyed_total"),
		"bad token":               with(ops(), "bad_tokens_total"),
		"unknown ID":              ops("load not_found"),
		"login without a session": with(ops("save ok"), "sessions_created_total", "logins_total"), // a new session, not a regenerated one
		"logout":                  with(ops("load ok", "delete ok"), "sessions_destroyed_total"),
		"login over a session":    {},
	}
	metrics := sessionprom.New(sessionprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	a := telemetrytest.NewApp(t, telemetrytest.Options{Observer: metrics.Observe})
	c, err := browser.NewClient(a.Server.URL, a.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range telemetrytest.Steps() {
		if st.Name == "login over a session" {
			// A session with data first; the login then moves it.
			a.Run(t, c, telemetrytest.Step{Name: "write before login", Method: "POST", Path: "/write?v=6", WantCode: 200})
			before := series(t, reg)
			a.Run(t, c, st)
			got := diff(before, series(t, reg))
			w := with(ops("load ok", "save ok", "load ok", "delete ok"), "sessions_regenerated_total", "logins_total")
			if !maps(got, w) {
				t.Errorf("%s: metrics changed by\n%v\nwant\n%v", st.Name, fmtMap(got), fmtMap(w))
			}
			continue
		}
		before := series(t, reg)
		a.Run(t, c, st)
		got := diff(before, series(t, reg))
		if !maps(got, want[st.Name]) {
			t.Errorf("%s: metrics changed by\n%v\nwant\n%v", st.Name, fmtMap(got), fmtMap(want[st.Name]))
		}
	}
	// The scrape through promhttp parses and carries the same names.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	f := scrape(t, srv.URL)
	for _, name := range []string{
		"sessionkit_store_operations_total", "sessionkit_store_operation_duration_seconds",
		"sessionkit_save_conflicts_total", "sessionkit_save_retries_exhausted_total", "sessionkit_bad_tokens_total",
		"sessionkit_sessions_created_total", "sessionkit_sessions_regenerated_total", "sessionkit_sessions_destroyed_total",
		"sessionkit_touches_total", "sessionkit_logins_total", "sessionkit_errors_total",
	} {
		if f[name] == nil {
			t.Errorf("scrape has no %s", name)
		}
	}
	if h := f["sessionkit_store_operation_duration_seconds"]; h != nil {
		if h.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("duration is a %v, want a histogram", h.GetType())
		}
		var bounds []float64
		for _, b := range h.GetMetric()[0].GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the text format's implicit +Inf bucket
				bounds = append(bounds, b.GetUpperBound())
			}
		}
		if !slices.Equal(bounds, sessionprom.DefaultBuckets) || bounds[0] != 100e-6 || bounds[len(bounds)-1] != 2.5 {
			t.Errorf("buckets %v, want DefaultBuckets, 100µs to 2.5s", bounds)
		}
	}
}

func maps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func fmtMap(m map[string]float64) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("  %s %+g", k, v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
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

// TestImportCounts: a session taken over by an Importer is counted as
// imported and as created; asking the Importer is a load, and retiring the
// old session a delete.
func TestImportCounts(t *testing.T) {
	metrics := sessionprom.New(sessionprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	a := telemetrytest.NewApp(t, telemetrytest.Options{Observer: metrics.Observe, Import: oldCookieImporter{}})
	for _, tc := range []struct {
		name, cookie string
		want         map[string]float64
	}{
		{"no foreign session", "", ops("load ok")},
		{"imported", "old=v", with(ops("load ok", "save ok", "delete ok"), "sessions_created_total", "sessions_imported_total")},
	} {
		before := series(t, reg)
		req, _ := http.NewRequest("GET", a.Server.URL+"/read", nil)
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := diff(before, series(t, reg)); !maps(got, tc.want) {
			t.Errorf("%s: metrics changed by\n%v\nwant\n%v", tc.name, fmtMap(got), fmtMap(tc.want))
		}
	}
}
