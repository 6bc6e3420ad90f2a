// Package sessionprom exports sessionkit's events as Prometheus metrics
// (github.com/prometheus/client_golang).
//
//	import sessionprom "github.com/sessionkit/sessionkit/contrib/prometheus"
//
//	metrics := sessionprom.New(sessionprom.Options{})
//	prometheus.MustRegister(metrics)
//	sessions.Observer = metrics.Observe
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics (every one labelled by store, the store's package name such
// as "redisstore"; labels never carry session or user IDs, so cardinality
// stays bounded):
//
//	sessionkit_store_operations_total{store,operation,outcome}          counter
//	sessionkit_store_operation_duration_seconds{store,operation,outcome} histogram
//	sessionkit_save_conflicts_total{store}            lost compare-and-swaps (retried up to Manager.MaxRetries times)
//	sessionkit_save_retries_exhausted_total{store}    saves given up (ErrTooManyConflicts)
//	sessionkit_bad_tokens_total{store}                refused client tokens
//	sessionkit_sessions_created_total{store}          new sessions stored (a login without a session too)
//	sessionkit_sessions_regenerated_total{store}      stored sessions moved to a new ID (Regenerate: a login over a session)
//	sessionkit_sessions_destroyed_total{store}        stored sessions ended and deleted (Destroy, a logout)
//	sessionkit_sessions_imported_total{store}         taken over from another system (Importer)
//	sessionkit_touches_total{store}                   idle-expiry extensions (successful touches)
//	sessionkit_logins_total{store}                    package auth
//	sessionkit_login_failures_total{store}            refused credentials (auth.FormLogin)
//	sessionkit_errors_total{store}                    errors also logged
//
// The three sessions_ counters move when the commit that stored or
// deleted the session succeeds (sessionkit.EventKind), not when a handler
// calls Regenerate or Destroy: a failed commit counts only as an error.
//
// operation is load, save, touch or delete; outcome is ok, not_found,
// conflict, timeout, canceled or error (sessionkit.Outcome). A series
// appears with its first event (the store label is known only then): until
// the first login, for example, sessionkit_logins_total is not exposed.
package sessionprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sessionkit/sessionkit"
)

// Options configures the metrics.
type Options struct {
	// Namespace prefixes every metric name (default "sessionkit").
	Namespace string
	// Buckets are the latency histogram's upper bounds in seconds, in
	// increasing order (registering the Metrics fails otherwise). Nil or
	// empty means DefaultBuckets: 100µs to 2.5s, suited to in-memory and
	// network stores.
	Buckets []float64
	// ConstLabels are added to every metric (an instance or app name;
	// keep them bounded). They must not use the metrics' own label names,
	// store, operation and outcome, nor "le", the histogram's bucket
	// label: registering the Metrics then fails (Registerer.Register
	// returns the error; MustRegister panics), and Observe records
	// nothing it cannot (it never panics).
	ConstLabels prometheus.Labels
}

// DefaultBuckets are the default latency buckets, in seconds.
var DefaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics is a prometheus.Collector fed by a Manager's Observer. It is
// safe for concurrent use; one Metrics can serve several Managers.
type Metrics struct {
	ops       *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	counters  map[sessionkit.EventKind]*prometheus.CounterVec
	collected []prometheus.Collector
	// err is why Options cannot make the latency histogram (client_golang
	// would panic on its first observation): Describe reports it, so
	// registration fails, and Observe leaves the histogram alone.
	err error
}

// New returns the metrics; register them with a prometheus.Registerer and
// set Observe as the Manager's Observer.
func New(opts Options) *Metrics {
	ns := opts.Namespace
	if ns == "" {
		ns = "sessionkit"
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "store", Name: "operations_total",
			Help:        "Store calls made by sessionkit, by operation and outcome.",
			ConstLabels: opts.ConstLabels,
		}, []string{"store", "operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "store", Name: "operation_duration_seconds",
			Help:        "Latency of store calls made by sessionkit, by operation and outcome.",
			Buckets:     buckets,
			ConstLabels: opts.ConstLabels,
		}, []string{"store", "operation", "outcome"}),
		counters: map[sessionkit.EventKind]*prometheus.CounterVec{},
		err:      checkHistogram(opts.ConstLabels, buckets),
	}
	m.collected = append(m.collected, m.ops, m.latency)
	for _, c := range []struct {
		kind       sessionkit.EventKind
		name, help string
	}{
		{sessionkit.EventConflict, "save_conflicts_total", "Saves that lost their compare-and-swap (retried up to MaxRetries times)."},
		{sessionkit.EventTooManyConflicts, "save_retries_exhausted_total", "Saves given up after too many conflicts."},
		{sessionkit.EventBadToken, "bad_tokens_total", "Client tokens refused (malformed, forged or unknown to the client store)."},
		{sessionkit.EventCreate, "sessions_created_total", "New sessions stored."},
		{sessionkit.EventRegenerate, "sessions_regenerated_total", "Stored sessions moved to a new ID by Regenerate (a login), once committed."},
		{sessionkit.EventDestroy, "sessions_destroyed_total", "Stored sessions ended and deleted (Destroy, a logout), once committed."},
		{sessionkit.EventImport, "sessions_imported_total", "Sessions taken over from another system (Importer)."},
		{sessionkit.EventTouch, "touches_total", "Idle-expiry extensions (successful store touches)."},
		{sessionkit.EventLogin, "logins_total", "Successful logins."},
		{sessionkit.EventLoginFailed, "login_failures_total", "Logins refused for wrong credentials."},
		{sessionkit.EventError, "errors_total", "Errors sessionkit reported (and logged)."},
	} {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: c.name, Help: c.help, ConstLabels: opts.ConstLabels,
		}, []string{"store"})
		m.counters[c.kind] = v
		m.collected = append(m.collected, v)
	}
	return m
}

// Observe records e. Use it as (or call it from) Manager.Observer.
func (m *Metrics) Observe(e sessionkit.Event) {
	if e.Kind.StoreOp() {
		op, outcome := e.Kind.String(), e.Outcome.String()
		m.ops.WithLabelValues(e.Store, op, outcome).Inc()
		if m.err == nil {
			m.latency.WithLabelValues(e.Store, op, outcome).Observe(e.Duration.Seconds())
		}
	}
	if e.Kind == sessionkit.EventTouch && e.Outcome != sessionkit.OutcomeOK {
		return // extended nothing; counted in store_operations_total
	}
	if c, ok := m.counters[e.Kind]; ok {
		c.WithLabelValues(e.Store).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	if m.err != nil {
		ch <- prometheus.NewInvalidDesc(m.err)
	}
	for _, c := range m.collected {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collected {
		c.Collect(ch)
	}
}

// checkHistogram reports what in the options client_golang refuses for a
// histogram by panicking when its first series is made: a constant "le"
// label, or buckets out of increasing order.
func checkHistogram(constLabels prometheus.Labels, buckets []float64) error {
	if _, ok := constLabels["le"]; ok {
		return fmt.Errorf(`sessionprom: ConstLabels must not use "le", the latency histogram's bucket label`)
	}
	for i := 1; i < len(buckets); i++ {
		if !(buckets[i-1] < buckets[i]) {
			return fmt.Errorf("sessionprom: Buckets must be in increasing order: %g is followed by %g", buckets[i-1], buckets[i])
		}
	}
	return nil
}
