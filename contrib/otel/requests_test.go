package sessionotel_test

// The same requests as contrib/prometheus's TestRequestCounts, checked
// against the spans, span events and metrics this package documents.

import (
	"context"
	"slices"
	"strings"
	"testing"

	sessionotel "github.com/sessionkit/sessionkit/contrib/otel"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/telemetrytest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// requestOutcome is what one request left in the exporters: the store
// call spans under its span ("load ok"), the events on its span
// ("sessionkit.create"), and how the metrics moved.
type requestOutcome struct {
	spans   []string
	events  []string
	metrics map[string]int64
}

// metricPoints flattens the collected metrics: counters by name, the
// histogram as name/operation/outcome with its count.
func metricPoints(t *testing.T, p *providers) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					t.Errorf("%s is not a monotonic counter", m.Name)
				}
				for _, dp := range d.DataPoints {
					if s, _ := dp.Attributes.Value(sessionotel.StoreKey); s.AsString() != "memstore" || dp.Attributes.Len() != 1 {
						t.Errorf("%s attributes %v, want sessionkit.store=memstore alone", m.Name, dp.Attributes.ToSlice())
					}
					out[m.Name] += dp.Value
				}
			case metricdata.Histogram[float64]:
				if m.Name != "sessionkit.store.operation.duration" || m.Unit != "s" {
					t.Errorf("histogram %s in %q, want sessionkit.store.operation.duration in s", m.Name, m.Unit)
				}
				for _, dp := range d.DataPoints {
					if !slices.Equal(dp.Bounds, sessionotel.DefaultBuckets) {
						t.Errorf("%s bounds %v, want DefaultBuckets", m.Name, dp.Bounds)
					}
					op, _ := dp.Attributes.Value(sessionotel.OperationKey)
					oc, _ := dp.Attributes.Value(sessionotel.OutcomeKey)
					if s, _ := dp.Attributes.Value(sessionotel.StoreKey); s.AsString() != "memstore" || dp.Attributes.Len() != 3 {
						t.Errorf("%s attributes %v", m.Name, dp.Attributes.ToSlice())
					}
					out[m.Name+"/"+op.AsString()+"/"+oc.AsString()] += int64(dp.Count)
				}
			default:
				t.Errorf("metric %s is a %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// calls returns the expected histogram counts of store calls ("load ok").
func calls(cs ...string) map[string]int64 {
	d := map[string]int64{}
	for _, c := range cs {
		op, outcome, _ := strings.Cut(c, " ")
		d["sessionkit.store.operation.duration/"+op+"/"+outcome]++
	}
	return d
}

func plus(d map[string]int64, counters ...string) map[string]int64 {
	for _, c := range counters {
		d["sessionkit."+c]++
	}
	return d
}

// TestRequestTelemetry drives each kind of request through a Manager
// under a request span and checks the spans, span events and metrics
// it leaves: exactly those the package doc describes.
func TestRequestTelemetry(t *testing.T) {
	type w = requestOutcome
	want := map[string]w{
		"untouched read": {metrics: map[string]int64{}},
		"create": {spans: []string{"save ok"}, events: []string{"sessionkit.create"},
			metrics: plus(calls("save ok"), "session.created")},
		"read":  {spans: []string{"load ok"}, metrics: calls("load ok")},
		"write": {spans: []string{"load ok", "save ok"}, metrics: calls("load ok", "save ok")},
		"touch": {spans: []string{"load ok", "touch ok"}, metrics: plus(calls("load ok", "touch ok"), "session.touches")},
		"refused touch": {spans: []string{"load ok", "touch error"}, events: []string{"sessionkit.error"},
			metrics: plus(calls("load ok", "touch error"), "errors")},
		// The second load checks the old record before it is deleted.
		"regenerate": {spans: []string{"load ok", "save ok", "load ok", "delete ok"}, events: []string{"sessionkit.regenerate"},
			metrics: plus(calls("load ok", "save ok", "load ok", "delete ok"), "session.regenerated")},
		"conflict then retry": {spans: []string{"load ok", "save conflict", "load ok", "save ok"}, events: []string{"sessionkit.conflict"},
			metrics: plus(calls("load ok", "save conflict", "load ok", "save ok"), "save.conflicts")},
		"retries exhausted": {
			spans:   []string{"load ok", "save conflict", "load ok", "save conflict", "load ok", "save conflict"},
			events:  []string{"sessionkit.conflict", "sessionkit.conflict", "sessionkit.conflict", "sessionkit.too-many-conflicts", "sessionkit.error"},
			metrics: plus(calls("load ok", "save conflict", "load ok", "save conflict", "load ok", "save conflict"), "save.conflicts", "save.conflicts", "save.conflicts", "save.retries_exhausted", "errors")},
		"too large":  {spans: []string{"load ok"}, events: []string{"sessionkit.error"}, metrics: plus(calls("load ok"), "errors")},
		"load error": {spans: []string{"load error"}, events: []string{"sessionkit.error"}, metrics: plus(calls("load error"), "errors")},
		"save error": {spans: []string{"load ok", "save error"}, events: []string{"sessionkit.error"}, metrics: plus(calls("load ok", "save error"), "errors")},
		"destroy": {spans: []string{"load ok", "delete ok"}, events: []string{"sessionkit.destroy"},
			metrics: plus(calls("load ok", "delete ok"), "session.destroyed")},
		"bad token":  {events: []string{"sessionkit.bad-token"}, metrics: plus(calls(), "token.rejected")},
		"unknown ID": {spans: []string{"load not_found"}, metrics: calls("load not_found")},
		// A new session, not a regenerated one.
		"login without a session": {spans: []string{"save ok"}, events: []string{"sessionkit.create", "sessionkit.login"},
			metrics: plus(calls("save ok"), "session.created", "logins")},
		"logout": {spans: []string{"load ok", "delete ok"}, events: []string{"sessionkit.destroy"},
			metrics: plus(calls("load ok", "delete ok"), "session.destroyed")},
		"login over a session": {spans: []string{"load ok", "save ok", "load ok", "delete ok"}, events: []string{"sessionkit.regenerate", "sessionkit.login"},
			metrics: plus(calls("load ok", "save ok", "load ok", "delete ok"), "session.regenerated", "logins")},
	}
	p := newProviders(t)
	a := telemetrytest.NewApp(t, telemetrytest.Options{Observer: p.obs.Observe, Wrap: p.traced})
	c, err := browser.NewClient(a.Server.URL, a.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range telemetrytest.Steps() {
		if st.Name == "login over a session" {
			a.Run(t, c, telemetrytest.Step{Name: "write before login", Method: "POST", Path: "/write?v=6", WantCode: 200})
		}
		p.spans.Reset()
		before := metricPoints(t, p)
		a.Run(t, c, st)
		got := requestOutcome{metrics: map[string]int64{}}
		after := metricPoints(t, p)
		for k, v := range after {
			if v != before[k] {
				got.metrics[k] = v - before[k]
			}
		}
		var request sdktrace.ReadOnlySpan
		for _, s := range p.spans.Ended() {
			if strings.HasPrefix(s.Name(), "request ") {
				request = s
			}
		}
		if request == nil {
			t.Fatalf("%s: no request span", st.Name)
		}
		for _, ev := range request.Events() {
			got.events = append(got.events, ev.Name)
			if set := attribute.NewSet(ev.Attributes...); set.Len() != 1 {
				t.Errorf("%s: event %s attributes %v, want sessionkit.store alone", st.Name, ev.Name, ev.Attributes)
			} else if s, _ := set.Value(sessionotel.StoreKey); s.AsString() != "memstore" {
				t.Errorf("%s: event %s attributes %v", st.Name, ev.Name, ev.Attributes)
			}
		}
		for _, s := range p.spans.Ended() {
			if s == request {
				continue
			}
			attrs := attribute.NewSet(s.Attributes()...)
			op, _ := attrs.Value(sessionotel.OperationKey)
			oc, _ := attrs.Value(sessionotel.OutcomeKey)
			store, _ := attrs.Value(sessionotel.StoreKey)
			got.spans = append(got.spans, op.AsString()+" "+oc.AsString())
			if s.Name() != "sessionkit."+op.AsString() || store.AsString() != "memstore" || attrs.Len() != 3 {
				t.Errorf("%s: span %s attributes %v", st.Name, s.Name(), s.Attributes())
			}
			if s.Parent().SpanID() != request.SpanContext().SpanID() {
				t.Errorf("%s: span %s is not a child of the request's span", st.Name, s.Name())
			}
			if s.StartTime().Before(request.StartTime()) || s.EndTime().Before(s.StartTime()) || request.EndTime().Before(s.EndTime()) {
				t.Errorf("%s: span %s from %v to %v, outside its request's %v to %v", st.Name, s.Name(), s.StartTime(), s.EndTime(), request.StartTime(), request.EndTime())
			}
			failed := oc.AsString() != "ok" && oc.AsString() != "not_found" && oc.AsString() != "conflict"
			var exceptions int
			for _, ev := range s.Events() {
				if ev.Name == "exception" {
					exceptions++
				}
			}
			if failed != (s.Status().Code == codes.Error) || failed != (exceptions == 1) {
				t.Errorf("%s: span %s outcome %s has status %v and %d recorded errors", st.Name, s.Name(), oc.AsString(), s.Status(), exceptions)
			}
		}
		wt := want[st.Name]
		if !slices.Equal(got.spans, wt.spans) || !slices.Equal(got.events, wt.events) || !equalCounts(got.metrics, wt.metrics) {
			t.Errorf("%s:\n spans  %v, want %v\n events %v, want %v\n metrics %v, want %v", st.Name, got.spans, wt.spans, got.events, wt.events, got.metrics, wt.metrics)
		}
	}
}

func equalCounts(a, b map[string]int64) bool {
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
