package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/sessionkit/sessionkit"
)

// metrics counts the Manager's events and serves them in the Prometheus
// text format, under the names contrib/prometheus uses. The demo is part
// of the main module, whose go.mod carries only what shipped packages
// need, so it renders these few counters itself instead of importing
// client_golang (through contrib/prometheus); an application would use
// contrib/prometheus.
type metrics struct {
	mu     sync.Mutex
	ops    map[opKey]*opStat
	events map[eventKey]uint64
}

type opKey struct{ store, op, outcome string }

type opStat struct {
	count uint64
	sum   float64 // seconds
}

type eventKey struct {
	name, store string
}

// eventMetrics names the counter of each non-store event.
var eventMetrics = map[sessionkit.EventKind]string{
	sessionkit.EventConflict:         "sessionkit_save_conflicts_total",
	sessionkit.EventTooManyConflicts: "sessionkit_save_retries_exhausted_total",
	sessionkit.EventBadToken:         "sessionkit_bad_tokens_total",
	sessionkit.EventCreate:           "sessionkit_sessions_created_total",
	sessionkit.EventRegenerate:       "sessionkit_sessions_regenerated_total",
	sessionkit.EventDestroy:          "sessionkit_sessions_destroyed_total",
	sessionkit.EventImport:           "sessionkit_sessions_imported_total",
	sessionkit.EventTouch:            "sessionkit_touches_total",
	sessionkit.EventLogin:            "sessionkit_logins_total",
	sessionkit.EventLoginFailed:      "sessionkit_login_failures_total",
	sessionkit.EventError:            "sessionkit_errors_total",
}

func newMetrics() *metrics {
	return &metrics{ops: map[opKey]*opStat{}, events: map[eventKey]uint64{}}
}

// observe is the Manager's Observer.
func (m *metrics) observe(e sessionkit.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Kind.StoreOp() {
		k := opKey{e.Store, e.Kind.String(), e.Outcome.String()}
		st := m.ops[k]
		if st == nil {
			st = &opStat{}
			m.ops[k] = st
		}
		st.count++
		st.sum += e.Duration.Seconds()
	}
	if e.Kind == sessionkit.EventTouch && e.Outcome != sessionkit.OutcomeOK {
		return // extended nothing, as in contrib/prometheus
	}
	if name, ok := eventMetrics[e.Kind]; ok {
		m.events[eventKey{name, e.Store}]++
	}
}

// mount serves /metrics beside next.
func (m *metrics) mount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(m.render()))
	})
}

func (m *metrics) render() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	opKeys := make([]opKey, 0, len(m.ops))
	for k := range m.ops {
		opKeys = append(opKeys, k)
	}
	slices.SortFunc(opKeys, func(a, b opKey) int {
		return strings.Compare(a.store+a.op+a.outcome, b.store+b.op+b.outcome)
	})
	b.WriteString("# HELP sessionkit_store_operations_total Store calls made by sessionkit, by operation and outcome.\n")
	b.WriteString("# TYPE sessionkit_store_operations_total counter\n")
	for _, k := range opKeys {
		fmt.Fprintf(&b, "sessionkit_store_operations_total{store=%q,operation=%q,outcome=%q} %d\n", k.store, k.op, k.outcome, m.ops[k].count)
	}
	b.WriteString("# HELP sessionkit_store_operation_duration_seconds Latency of store calls made by sessionkit.\n")
	b.WriteString("# TYPE sessionkit_store_operation_duration_seconds summary\n")
	for _, k := range opKeys {
		labels := fmt.Sprintf("{store=%q,operation=%q,outcome=%q}", k.store, k.op, k.outcome)
		fmt.Fprintf(&b, "sessionkit_store_operation_duration_seconds_sum%s %g\n", labels, m.ops[k].sum)
		fmt.Fprintf(&b, "sessionkit_store_operation_duration_seconds_count%s %d\n", labels, m.ops[k].count)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for _, n := range eventMetrics {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		fmt.Fprintf(&b, "# TYPE %s counter\n", name)
		var keys []eventKey
		for k := range m.events {
			if k.name == name {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b eventKey) int { return strings.Compare(a.store, b.store) })
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{store=%q} %d\n", name, k.store, m.events[k])
		}
	}
	return b.String()
}
