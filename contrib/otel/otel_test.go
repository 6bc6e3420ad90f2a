package sessionotel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	sessionotel "github.com/sessionkit/sessionkit/contrib/otel"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
	"github.com/sessionkit/sessionkit/store/memstore"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type providers struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *sessionotel.Observer
}

func newProviders(t *testing.T) *providers {
	p := &providers{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	p.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.reader))
	t.Cleanup(func() {
		p.tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	var err error
	p.obs, err = sessionotel.New(sessionotel.Options{TracerProvider: p.tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// traced starts a "request" span around h, as otelhttp would.
func (p *providers) traced(h http.Handler) http.Handler {
	tracer := p.tp.Tracer("test")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "request "+r.URL.Path)
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (p *providers) sums(t *testing.T) map[string]int64 {
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != sessionotel.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] += dp.Value
					checkBounded(t, m.Name, dp.Attributes)
				}
			case metricdata.Histogram[float64]:
				if m.Unit != "s" {
					t.Errorf("%s unit %q, want s", m.Name, m.Unit)
				}
				for _, dp := range d.DataPoints {
					op, _ := dp.Attributes.Value(sessionotel.OperationKey)
					oc, _ := dp.Attributes.Value(sessionotel.OutcomeKey)
					out[m.Name+"/"+op.AsString()+"/"+oc.AsString()] += int64(dp.Count)
					checkBounded(t, m.Name, dp.Attributes)
				}
			}
		}
	}
	return out
}

func checkBounded(t *testing.T, name string, set attribute.Set) {
	for _, kv := range set.ToSlice() {
		switch kv.Key {
		case sessionotel.StoreKey, sessionotel.OperationKey, sessionotel.OutcomeKey:
			if len(kv.Value.AsString()) > 20 {
				t.Errorf("%s: unbounded-looking %s=%q", name, kv.Key, kv.Value.AsString())
			}
		default:
			t.Errorf("%s: unexpected attribute %s", name, kv.Key)
		}
	}
}

// TestSpansUnderRequest drives real requests and checks that every store
// call is a span whose parent is the request's span, with the operation,
// outcome and store, and that the metrics count the same calls.
func TestSpansUnderRequest(t *testing.T) {
	p := newProviders(t)
	env := frameworktest.NewEnv(t)
	env.Manager.Observer = p.obs.Observe
	srv := httptest.NewServer(p.traced(frameworktest.ServeMux(env)))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) {
		resp, err := hc.Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post("/set?k=a&v=1", nil)
	post("/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	post("/logout", nil)

	spans := p.spans.Ended()
	requests := map[trace.SpanID]string{}
	for _, s := range spans {
		if strings.HasPrefix(s.Name(), "request ") {
			requests[s.SpanContext().SpanID()] = s.Name()
		}
	}
	ops := map[string]int{}
	for _, s := range spans {
		if !strings.HasPrefix(s.Name(), "sessionkit.") {
			continue
		}
		parent, ok := requests[s.Parent().SpanID()]
		if !ok || s.Parent().TraceID() != s.SpanContext().TraceID() {
			t.Errorf("span %s is not a child of a request span", s.Name())
		}
		if s.SpanKind() != trace.SpanKindInternal || !s.EndTime().After(s.StartTime()) && !s.EndTime().Equal(s.StartTime()) {
			t.Errorf("span %s: kind %v, start %v, end %v", s.Name(), s.SpanKind(), s.StartTime(), s.EndTime())
		}
		attrs := attribute.NewSet(s.Attributes()...)
		op, _ := attrs.Value(sessionotel.OperationKey)
		store, _ := attrs.Value(sessionotel.StoreKey)
		if "sessionkit."+op.AsString() != s.Name() || store.AsString() != "frameworktest" {
			t.Errorf("span %s: attributes %v", s.Name(), s.Attributes())
		}
		ops[parent+" "+s.Name()]++
	}
	for want, n := range map[string]int{
		"request /set sessionkit.save": 1,
		// The login loads the session, then checks its old record
		// once it is saved under the new ID.
		"request /login sessionkit.load": 2, "request /login sessionkit.save": 1, "request /login sessionkit.delete": 1,
		"request /logout sessionkit.load": 1, "request /logout sessionkit.delete": 1,
	} {
		if ops[want] != n {
			t.Errorf("%q: %d spans, want %d (all: %v)", want, ops[want], n, ops)
		}
	}
	// Lifecycle events are events on the request's span.
	var loginEvents int
	for _, s := range spans {
		if s.Name() == "request /login" {
			for _, ev := range s.Events() {
				if ev.Name == "sessionkit.login" || ev.Name == "sessionkit.regenerate" {
					loginEvents++
				}
			}
		}
	}
	if loginEvents != 2 {
		t.Errorf("%d login/regenerate events on the login request's span, want 2", loginEvents)
	}

	sums := p.sums(t)
	for name, want := range map[string]int64{
		"sessionkit.session.created":                    1, // the first write; the login moves it (regenerated)
		"sessionkit.session.regenerated":                1,
		"sessionkit.session.destroyed":                  1,
		"sessionkit.logins":                             1,
		"sessionkit.store.operation.duration/save/ok":   2,
		"sessionkit.store.operation.duration/delete/ok": 2,
		"sessionkit.store.operation.duration/load/ok":   3,
	} {
		if sums[name] != want {
			t.Errorf("%s = %d, want %d (all: %v)", name, sums[name], want, sums)
		}
	}
}

// downStore fails every call.
type downStore struct{ sessionkit.Store }

func (downStore) Save(context.Context, string, sessionkit.Record) (uint64, error) {
	return 0, errors.New("connection refused")
}

// TestFailedCallSpan: a failed store call's span carries the error.
func TestFailedCallSpan(t *testing.T) {
	p := newProviders(t)
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	m := sessionkit.New(downStore{mem})
	m.Logger = slog.New(slog.DiscardHandler)
	m.Observer = p.obs.Observe
	h := p.traced(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("a", 1)
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
	var found bool
	for _, s := range p.spans.Ended() {
		if s.Name() != "sessionkit.save" {
			continue
		}
		found = true
		attrs := attribute.NewSet(s.Attributes()...)
		oc, _ := attrs.Value(sessionotel.OutcomeKey)
		if s.Status().Code != codes.Error || oc.AsString() != "error" || len(s.Events()) == 0 {
			t.Errorf("failed save span: status %v, outcome %q, events %v", s.Status(), oc.AsString(), s.Events())
		}
	}
	if !found {
		t.Fatal("no save span")
	}
	if got := p.sums(t)["sessionkit.errors"]; got != 1 {
		t.Errorf("sessionkit.errors = %d, want 1", got)
	}
}

// touchStore answers Touch with err.
type touchStore struct {
	sessionkit.Store
	err error
}

func (s touchStore) Touch(ctx context.Context, key string, expiry time.Time) error {
	if s.err != nil {
		return s.err
	}
	return s.Store.Touch(ctx, key, expiry)
}

// TestTouchesCountExtensions: sessionkit.session.touches counts the
// touches that extended a session; one the store refused or that found
// no session is only in the duration histogram.
func TestTouchesCountExtensions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		outcome string
		want    int64
	}{
		{"ok", nil, "ok", 1},
		{"not found", sessionkit.ErrNotFound, "not_found", 0},
		{"refused", errors.New("OOM command not allowed"), "error", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProviders(t)
			mem := memstore.New(memstore.Options{})
			defer mem.Close()
			m := sessionkit.New(touchStore{mem, tc.err})
			now := time.Now()
			m.Now = func() time.Time { return now }
			m.Logger = slog.New(slog.DiscardHandler)
			m.Observer = p.obs.Observe
			app := httptest.NewServer(p.traced(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if r.Method == http.MethodPost {
					s.Set("a", 1)
					return
				}
				s.Has("a")
			}))))
			defer app.Close()
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar}
			for _, method := range []string{"POST", "GET"} {
				req, _ := http.NewRequest(method, app.URL, nil)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				now = now.Add(2 * time.Minute) // past the touch interval: the GET touches
			}
			sums := p.sums(t)
			if got := sums["sessionkit.store.operation.duration/touch/"+tc.outcome]; got != 1 {
				t.Errorf("touch calls with outcome %s = %d, want 1 (all: %v)", tc.outcome, got, sums)
			}
			if got := sums["sessionkit.session.touches"]; got != tc.want {
				t.Errorf("sessionkit.session.touches = %d, want %d", got, tc.want)
			}
		})
	}
}

// An empty Buckets slice means DefaultBuckets, as nil does (it used to
// make a histogram with no bounds).
func TestEmptyBucketsAreDefault(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	obs, err := sessionotel.New(sessionotel.Options{MeterProvider: mp, Buckets: []float64{}})
	if err != nil {
		t.Fatal(err)
	}
	obs.Observe(sessionkit.Event{Kind: sessionkit.EventLoad, Store: "memstore", Ctx: context.Background()})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				if got := h.DataPoints[0].Bounds; len(got) != len(sessionotel.DefaultBuckets) {
					t.Fatalf("bounds %v, want DefaultBuckets", got)
				}
				return
			}
		}
	}
	t.Fatal("no latency histogram collected")
}
