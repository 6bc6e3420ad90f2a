package sessionotel_test

// The same requests as contrib/prometheus's TestRequestCounts, checked
// against the spans, span events and metrics this package documents.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionotel "github.com/sessionkit/sessionkit/contrib/otel"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// faultStore is a memstore whose calls can be made to fail. It names the
// store it wraps (Unwrap), so events carry store="memstore".
type faultStore struct {
	*memstore.Store
	failLoad, failSave, failTouch atomic.Bool
	conflicts                     atomic.Int32 // the next Saves that lose their compare-and-swap
}

var errDown = errors.New("store down")

func (f *faultStore) Unwrap() sessionkit.Store { return f.Store }

func (f *faultStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if f.failLoad.Load() {
		return sessionkit.Record{}, errDown
	}
	return f.Store.Load(ctx, key)
}

func (f *faultStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if f.failSave.Load() {
		return 0, errDown
	}
	if f.conflicts.Add(-1) >= 0 {
		return 0, sessionkit.ErrConflict
	}
	f.conflicts.Store(0)
	return f.Store.Save(ctx, key, rec)
}

func (f *faultStore) Touch(ctx context.Context, key string, exp time.Time) error {
	if f.failTouch.Load() {
		return errDown
	}
	return f.Store.Touch(ctx, key, exp)
}

// requestApp is a Manager over a faultStore with routes for each kind of
// session use, on a fake clock.
type requestApp struct {
	store  *faultStore
	clock  *browser.Clock
	server *httptest.Server
}

func newRequestApp(t *testing.T, observe func(sessionkit.Event), wrap func(http.Handler) http.Handler) *requestApp {
	t.Helper()
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	a := &requestApp{store: &faultStore{Store: mem}, clock: browser.NewClock()}
	m := sessionkit.New(a.store)
	m.Now = a.clock.Now
	m.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m.MaxRetries = 2
	m.MaxDataSize = 4 << 10
	m.Observer = observe
	type user struct{ ID string }
	au := auth.New(m, func(u user) string { return u.ID }, func(_ context.Context, id string) (user, error) { return user{id}, nil })
	au.Logger = m.Logger
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.From(r.Context()), "k")
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("k", r.URL.Query().Get("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("big", strings.Repeat("x", 8<<10))
	})
	mux.HandleFunc("POST /regenerate", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Regenerate()
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := au.Login(w, r, user{"alice"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		au.Logout(w, r)
	})
	a.server = httptest.NewServer(wrap(au.Handler(mux)))
	t.Cleanup(a.server.Close)
	return a
}

// requestStep is one request and the store behaviour it meets.
type requestStep struct {
	name     string
	method   string
	path     string
	cookie   string        // sent instead of the jar's cookies when set
	advance  time.Duration // the clock moves this much first
	fault    func(*faultStore)
	wantCode int
}

// requestSteps drive one browser through every kind of session use the
// metrics count. Each step's expected counts are in the test using it.
var requestSteps = []requestStep{
	{name: "untouched read", method: "GET", path: "/read", wantCode: 200},
	{name: "create", method: "POST", path: "/write?v=1", wantCode: 200},
	{name: "read", method: "GET", path: "/read", wantCode: 200},
	{name: "write", method: "POST", path: "/write?v=2", wantCode: 200},
	{name: "touch", method: "GET", path: "/read", advance: 2 * time.Minute, wantCode: 200},
	{name: "refused touch", method: "GET", path: "/read", advance: 2 * time.Minute, fault: func(f *faultStore) { f.failTouch.Store(true) }, wantCode: 200},
	{name: "regenerate", method: "POST", path: "/regenerate", wantCode: 200},
	{name: "conflict then retry", method: "POST", path: "/write?v=3", fault: func(f *faultStore) { f.conflicts.Store(1) }, wantCode: 200},
	{name: "retries exhausted", method: "POST", path: "/write?v=4", fault: func(f *faultStore) { f.conflicts.Store(100) }, wantCode: 503},
	{name: "too large", method: "POST", path: "/big", wantCode: 500},
	{name: "load error", method: "GET", path: "/read", fault: func(f *faultStore) { f.failLoad.Store(true) }, wantCode: 503},
	{name: "save error", method: "POST", path: "/write?v=5", fault: func(f *faultStore) { f.failSave.Store(true) }, wantCode: 503},
	{name: "destroy", method: "POST", path: "/destroy", wantCode: 200},
	{name: "bad token", method: "GET", path: "/read", cookie: "garbage", wantCode: 200},
	{name: "unknown ID", method: "GET", path: "/read", cookie: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantCode: 200},
	{name: "login without a session", method: "POST", path: "/login", wantCode: 200},
	{name: "logout", method: "POST", path: "/logout", wantCode: 200},
	{name: "login over a session", method: "POST", path: "/login", wantCode: 200},
}

// run sends step's request from c, after applying its fault (cleared
// afterwards) and moving the clock.
func (a *requestApp) run(t *testing.T, c *browser.Client, st requestStep) {
	t.Helper()
	a.clock.Advance(st.advance)
	if st.fault != nil {
		st.fault(a.store)
	}
	defer func() {
		a.store.failLoad.Store(false)
		a.store.failSave.Store(false)
		a.store.failTouch.Store(false)
		a.store.conflicts.Store(0)
	}()
	if st.cookie != "" {
		req, _ := http.NewRequest(st.method, a.server.URL+st.path, nil)
		req.Header.Set("Cookie", "session="+st.cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != st.wantCode {
			t.Fatalf("%s: status %d, want %d", st.name, resp.StatusCode, st.wantCode)
		}
		return
	}
	resp, body, err := c.Do(st.method, st.path)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != st.wantCode {
		t.Fatalf("%s: status %d (%s), want %d", st.name, resp.StatusCode, body, st.wantCode)
	}
}

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
		"regenerate": {spans: []string{"load ok", "save ok", "delete ok"}, events: []string{"sessionkit.regenerate"},
			metrics: plus(calls("load ok", "save ok", "delete ok"), "session.regenerated")},
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
		"login without a session": {spans: []string{"save ok"}, events: []string{"sessionkit.regenerate", "sessionkit.create", "sessionkit.login"},
			metrics: plus(calls("save ok"), "session.created", "session.regenerated", "logins")},
		"logout": {spans: []string{"load ok", "delete ok"}, events: []string{"sessionkit.destroy"},
			metrics: plus(calls("load ok", "delete ok"), "session.destroyed")},
		"login over a session": {spans: []string{"load ok", "save ok", "delete ok"}, events: []string{"sessionkit.regenerate", "sessionkit.login"},
			metrics: plus(calls("load ok", "save ok", "delete ok"), "session.regenerated", "logins")},
	}
	p := newProviders(t)
	a := newRequestApp(t, p.obs.Observe, p.traced)
	c, err := browser.NewClient(a.server.URL, a.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range requestSteps {
		if st.name == "login over a session" {
			a.run(t, c, requestStep{name: "write before login", method: "POST", path: "/write?v=6", wantCode: 200})
		}
		p.spans.Reset()
		before := metricPoints(t, p)
		a.run(t, c, st)
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
			t.Fatalf("%s: no request span", st.name)
		}
		for _, ev := range request.Events() {
			got.events = append(got.events, ev.Name)
			if set := attribute.NewSet(ev.Attributes...); set.Len() != 1 {
				t.Errorf("%s: event %s attributes %v, want sessionkit.store alone", st.name, ev.Name, ev.Attributes)
			} else if s, _ := set.Value(sessionotel.StoreKey); s.AsString() != "memstore" {
				t.Errorf("%s: event %s attributes %v", st.name, ev.Name, ev.Attributes)
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
				t.Errorf("%s: span %s attributes %v", st.name, s.Name(), s.Attributes())
			}
			if s.Parent().SpanID() != request.SpanContext().SpanID() {
				t.Errorf("%s: span %s is not a child of the request's span", st.name, s.Name())
			}
			if s.StartTime().Before(request.StartTime()) || s.EndTime().Before(s.StartTime()) || request.EndTime().Before(s.EndTime()) {
				t.Errorf("%s: span %s from %v to %v, outside its request's %v to %v", st.name, s.Name(), s.StartTime(), s.EndTime(), request.StartTime(), request.EndTime())
			}
			failed := oc.AsString() != "ok" && oc.AsString() != "not_found" && oc.AsString() != "conflict"
			var exceptions int
			for _, ev := range s.Events() {
				if ev.Name == "exception" {
					exceptions++
				}
			}
			if failed != (s.Status().Code == codes.Error) || failed != (exceptions == 1) {
				t.Errorf("%s: span %s outcome %s has status %v and %d recorded errors", st.name, s.Name(), oc.AsString(), s.Status(), exceptions)
			}
		}
		wt := want[st.name]
		if !slices.Equal(got.spans, wt.spans) || !slices.Equal(got.events, wt.events) || !equalCounts(got.metrics, wt.metrics) {
			t.Errorf("%s:\n spans  %v, want %v\n events %v, want %v\n metrics %v, want %v", st.name, got.spans, wt.spans, got.events, wt.events, got.metrics, wt.metrics)
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
