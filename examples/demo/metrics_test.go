package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestMetricsFlag runs the demo with -metrics, signs up, fails a login and
// counts, then checks /metrics in the Prometheus text format.
func TestMetricsFlag(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base, _ := start(t, "-addr", "127.0.0.1:0", "-data", data, "-store", "memory://", "-metrics")
	b := newBrowser(t, base)
	b.signUp("ada")
	b.expect(b.post("/counter", map[string][]string{"op": {"increment"}}), http.StatusSeeOther, "")

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sample := regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$`)
	values := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a Prometheus sample line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		values[m[1]+m[2]] += v
	}
	for _, want := range []string{
		`sessionkit_logins_total{store="memstore"}`,
		`sessionkit_sessions_created_total{store="memstore"}`,
		`sessionkit_store_operations_total{store="memstore",operation="save",outcome="ok"}`,
	} {
		if values[want] < 1 {
			t.Errorf("%s = %v, want at least 1; /metrics:\n%s", want, values[want], body)
		}
	}

	// Without the flag there is no /metrics.
	base2, _ := start(t, "-addr", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "d2"), "-store", "memory://")
	resp, err = http.Get(base2 + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without -metrics = %d, want 404", resp.StatusCode)
	}
}

// TestMetricsTouchesCountExtensions: as in contrib/prometheus,
// sessionkit_touches_total counts only the touches that extended a
// session; the others are in sessionkit_store_operations_total alone.
func TestMetricsTouchesCountExtensions(t *testing.T) {
	m := newMetrics()
	for _, outcome := range []sessionkit.Outcome{sessionkit.OutcomeOK, sessionkit.OutcomeNotFound, sessionkit.OutcomeError} {
		m.observe(sessionkit.Event{Kind: sessionkit.EventTouch, Store: "memstore", Outcome: outcome})
	}
	out := m.render()
	for _, want := range []string{
		`sessionkit_touches_total{store="memstore"} 1` + "\n",
		`sessionkit_store_operations_total{store="memstore",operation="touch",outcome="not_found"} 1` + "\n",
		`sessionkit_store_operations_total{store="memstore",operation="touch",outcome="error"} 1` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, out)
		}
	}
}
