package sessionprom_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	sessionprom "github.com/sessionkit/sessionkit/contrib/prometheus"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// scrape fetches /metrics over HTTP and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value sums the samples of family whose labels include want.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	f := families[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestScrape drives real requests (login, writes, a failed login, a bad
// cookie, logout) through a Manager observed by the metrics, scrapes them
// through promhttp and checks the counts and the labels' bounds.
func TestScrape(t *testing.T) {
	env := frameworktest.NewEnv(t)
	metrics := sessionprom.New(sessionprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	env.Manager.Observer = metrics.Observe
	app := httptest.NewServer(frameworktest.ServeMux(env))
	defer app.Close()
	metricsSrv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metricsSrv.Close()

	c := newClient(t, app.URL)
	c.post("/set?k=a&v=1", nil)
	c.get("/get?k=a")
	c.post("/login", url.Values{"username": {"alice"}, "password": {"wrong"}})
	c.post("/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	c.post("/logout", nil)
	// auth.FormLogin reports refused credentials.
	form := httptest.NewServer(env.Auth.Handler(&auth.FormLogin[frameworktest.User]{
		Auth: env.Auth,
		Verify: func(context.Context, string, string) (frameworktest.User, error) {
			return frameworktest.User{}, auth.ErrInvalidCredentials
		},
	}))
	defer form.Close()
	newClient(t, form.URL).post("/", url.Values{"username": {"alice"}, "password": {"x"}})
	bad, _ := http.NewRequest("GET", app.URL+"/get?k=a", nil)
	bad.Header.Set("Cookie", "session=not-a-session-id")
	if resp, err := http.DefaultClient.Do(bad); err == nil {
		resp.Body.Close()
	}

	f := scrape(t, metricsSrv.URL)
	mem := map[string]string{"store": "frameworktest"} // the package of the suite's counting store
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sessionkit_sessions_created_total", mem, 1}, // the first write; the login moves it to a new ID (regenerated)
		{"sessionkit_sessions_regenerated_total", mem, 1},
		{"sessionkit_sessions_destroyed_total", mem, 1},
		{"sessionkit_logins_total", mem, 1},
		{"sessionkit_login_failures_total", mem, 1},
		{"sessionkit_bad_tokens_total", mem, 1},
		{"sessionkit_store_operations_total", map[string]string{"operation": "save", "outcome": "ok"}, 2},
		{"sessionkit_store_operations_total", map[string]string{"operation": "delete", "outcome": "ok"}, 2},
		{"sessionkit_store_operation_duration_seconds", map[string]string{"operation": "load"}, value(f, "sessionkit_store_operations_total", map[string]string{"operation": "load"})},
	} {
		if got := value(f, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if value(f, "sessionkit_store_operations_total", map[string]string{"operation": "load", "outcome": "ok"}) < 3 {
		t.Errorf("too few loads counted")
	}
	// Bounded labels: only the known names and values.
	allowed := map[string]map[string]bool{
		"store":     {"frameworktest": true},
		"operation": {"load": true, "save": true, "touch": true, "delete": true},
		"outcome":   {"ok": true, "not_found": true, "conflict": true, "timeout": true, "canceled": true, "error": true},
	}
	for name, fam := range f {
		if !strings.HasPrefix(name, "sessionkit_") {
			t.Errorf("metric %s outside the namespace", name)
		}
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "le" {
					continue
				}
				if !allowed[l.GetName()][l.GetValue()] {
					t.Errorf("%s has label %s=%q outside its bounded set", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestLint runs client_golang's metric linter over what is exposed.
func TestLint(t *testing.T) {
	env := frameworktest.NewEnv(t)
	metrics := sessionprom.New(sessionprom.Options{})
	env.Manager.Observer = metrics.Observe
	app := httptest.NewServer(frameworktest.ServeMux(env))
	defer app.Close()
	c := newClient(t, app.URL)
	c.post("/set?k=a&v=1", nil)
	problems, err := lint(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
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

// TestTouchesCountExtensions: sessionkit_touches_total counts the touches
// that extended a session; one the store refused or that found no session
// is only in sessionkit_store_operations_total.
func TestTouchesCountExtensions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		outcome string
		want    float64
	}{
		{"ok", nil, "ok", 1},
		{"not found", sessionkit.ErrNotFound, "not_found", 0},
		{"refused", errors.New("OOM command not allowed"), "error", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			defer mem.Close()
			m := sessionkit.New(touchStore{mem, tc.err})
			now := time.Now()
			m.Now = func() time.Time { return now }
			m.Logger = slog.New(slog.DiscardHandler)
			metrics := sessionprom.New(sessionprom.Options{})
			reg := prometheus.NewRegistry()
			reg.MustRegister(metrics)
			m.Observer = metrics.Observe
			app := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if r.Method == http.MethodPost {
					s.Set("a", 1)
					return
				}
				s.Has("a")
			})))
			defer app.Close()
			metricsSrv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			defer metricsSrv.Close()
			c := newClient(t, app.URL)
			c.post("/", nil)
			now = now.Add(2 * time.Minute) // past the touch interval: the GET touches
			c.get("/")
			f := scrape(t, metricsSrv.URL)
			if got := value(f, "sessionkit_store_operations_total", map[string]string{"operation": "touch", "outcome": tc.outcome}); got != 1 {
				t.Errorf("touch calls with outcome %s = %v, want 1", tc.outcome, got)
			}
			if got := value(f, "sessionkit_touches_total", nil); got != tc.want {
				t.Errorf("sessionkit_touches_total = %v, want %v", got, tc.want)
			}
		})
	}
}

// A constant label with one of the metrics' own label names is refused at
// registration, and the Metrics keep observing without panicking.
func TestConstLabelsClash(t *testing.T) {
	for _, name := range []string{"store", "operation", "outcome"} {
		m := sessionprom.New(sessionprom.Options{ConstLabels: prometheus.Labels{name: "x"}})
		if err := prometheus.NewRegistry().Register(m); err == nil || !strings.Contains(err.Error(), "duplicate label names") {
			t.Errorf("ConstLabels %q: Register = %v, want the duplicate-label error", name, err)
		}
		for _, kind := range []sessionkit.EventKind{sessionkit.EventLoad, sessionkit.EventLogin} {
			m.Observe(sessionkit.Event{Kind: kind, Store: "memstore"})
		}
	}
	// Other names are accepted.
	m := sessionprom.New(sessionprom.Options{ConstLabels: prometheus.Labels{"app": "shop"}})
	if err := prometheus.NewRegistry().Register(m); err != nil {
		t.Fatalf("ConstLabels app: Register = %v", err)
	}
}

// Options client_golang would only refuse by panicking when the first
// store call is observed (a constant "le" label, unordered buckets) make
// registration fail instead, and Observe keeps going without panicking.
func TestOptionsHistogramRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sessionprom.Options
		want string
	}{
		{"ConstLabels le", sessionprom.Options{ConstLabels: prometheus.Labels{"le": "x"}}, `"le"`},
		{"buckets decreasing", sessionprom.Options{Buckets: []float64{2, 1}}, "increasing order"},
		{"buckets repeated", sessionprom.Options{Buckets: []float64{1, 1}}, "increasing order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sessionprom.New(tc.opts)
			if err := prometheus.NewRegistry().Register(m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Register = %v, want an error naming %s", err, tc.want)
			}
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Observe panicked: %v", r)
				}
			}()
			for _, kind := range []sessionkit.EventKind{sessionkit.EventLoad, sessionkit.EventSave, sessionkit.EventLogin} {
				m.Observe(sessionkit.Event{Kind: kind, Store: "memstore"})
			}
		})
	}
	// Increasing buckets ending in +Inf are fine.
	m := sessionprom.New(sessionprom.Options{Buckets: []float64{.1, 1, math.Inf(1)}})
	if err := prometheus.NewRegistry().Register(m); err != nil {
		t.Fatalf("Register = %v", err)
	}
	m.Observe(sessionkit.Event{Kind: sessionkit.EventLoad, Store: "memstore"})
}

// An empty Buckets slice means DefaultBuckets, as nil does (it used to
// mean client_golang's own defaults).
func TestEmptyBucketsAreDefault(t *testing.T) {
	m := sessionprom.New(sessionprom.Options{Buckets: []float64{}})
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	m.Observe(sessionkit.Event{Kind: sessionkit.EventLoad, Store: "memstore"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sessionkit_store_operation_duration_seconds" {
			continue
		}
		if got := len(mf.GetMetric()[0].GetHistogram().GetBucket()); got != len(sessionprom.DefaultBuckets) {
			t.Fatalf("%d buckets, want DefaultBuckets' %d", got, len(sessionprom.DefaultBuckets))
		}
		return
	}
	t.Fatal("no latency histogram gathered")
}
