package sessionprom_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionprom "github.com/sessionkit/sessionkit/contrib/prometheus"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
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

func newRequestApp(t *testing.T, observe func(sessionkit.Event), imp sessionkit.Importer) *requestApp {
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
	m.Import = imp
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
	a.server = httptest.NewServer(au.Handler(mux))
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
		"regenerate":              with(ops("load ok", "save ok", "delete ok"), "sessions_regenerated_total"),
		"conflict then retry":     with(ops("load ok", "save conflict", "load ok", "save ok"), "save_conflicts_total"),
		"retries exhausted":       with(ops("load ok", "save conflict", "load ok", "save conflict", "load ok", "save conflict"), "save_conflicts_total", "save_conflicts_total", "save_conflicts_total", "save_retries_exhausted_total", "errors_total"),
		"too large":               with(ops("load ok"), "errors_total"),
		"load error":              with(ops("load error"), "errors_total"),
		"save error":              with(ops("load ok", "save error"), "errors_total"),
		"destroy":                 with(ops("load ok", "delete ok"), "sessions_destroyed_total"),
		"bad token":               with(ops(), "bad_tokens_total"),
		"unknown ID":              ops("load not_found"),
		"login without a session": with(ops("save ok"), "sessions_created_total", "sessions_regenerated_total", "logins_total"),
		"logout":                  with(ops("load ok", "delete ok"), "sessions_destroyed_total"),
		"login over a session":    {},
	}
	metrics := sessionprom.New(sessionprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	a := newRequestApp(t, metrics.Observe, nil)
	c, err := browser.NewClient(a.server.URL, a.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range requestSteps {
		if st.name == "login over a session" {
			// A session with data first; the login then moves it.
			a.run(t, c, requestStep{name: "write before login", method: "POST", path: "/write?v=6", wantCode: 200})
			before := series(t, reg)
			a.run(t, c, st)
			got := diff(before, series(t, reg))
			w := with(ops("load ok", "save ok", "delete ok"), "sessions_regenerated_total", "logins_total")
			if !maps(got, w) {
				t.Errorf("%s: metrics changed by\n%v\nwant\n%v", st.name, fmtMap(got), fmtMap(w))
			}
			continue
		}
		before := series(t, reg)
		a.run(t, c, st)
		got := diff(before, series(t, reg))
		if !maps(got, want[st.name]) {
			t.Errorf("%s: metrics changed by\n%v\nwant\n%v", st.name, fmtMap(got), fmtMap(want[st.name]))
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
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
	a := newRequestApp(t, metrics.Observe, oldCookieImporter{})
	for _, tc := range []struct {
		name, cookie string
		want         map[string]float64
	}{
		{"no foreign session", "", ops("load ok")},
		{"imported", "old=v", with(ops("load ok", "save ok", "delete ok"), "sessions_created_total", "sessions_imported_total")},
	} {
		before := series(t, reg)
		req, _ := http.NewRequest("GET", a.server.URL+"/read", nil)
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
