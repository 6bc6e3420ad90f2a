package main

import (
	"fmt"
	"html"
	"os"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- bench-compare:begin (written by bench/cmd/compare; edit the prose outside the markers) -->"
	endMarker   = "<!-- bench-compare:end -->"
)

func (rep *report) find(name, workload string) (cell, bool) {
	for _, c := range rep.Cells {
		if c.Target.Name == name && c.Workload == workload && c.Skipped == "" {
			return c, true
		}
	}
	return cell{}, false
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000)
}

func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdown renders the generated part of the BENCHMARKS.md section.
func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s: %d CPUs, %s, Node %s; %d clients each with its own session, %s warm-up then %s measured per cell; "+
		"%d passes over all targets, each cell showing its median pass by requests/s; "+
		"load average (1/5/15 min) %s at the start, %s at the end.\n\n",
		rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.CPUs, rep.GoVersion, orNA(rep.NodeVer),
		rep.Workers, rep.Warmup, rep.Duration, rep.Passes, rep.LoadStart, rep.LoadEnd)
	b.WriteString("CPU columns: CPU time (user + system, from /proc) per request over the measured window, of the server process " +
		"(`server`; express-session's one Node process) and of the store's server (`store`: redis-server, or PostgreSQL's whole " +
		"process tree), and each as a multiple of express-session + connect-redis's (`express-redis`) under the same workload.\n\n")
	b.WriteString("| target | library | store | workload | requests/s | p50 ms | p99 ms | allocs/req | errors | server CPU µs/req | × express-redis | store CPU µs/req | × express-redis |\n")
	b.WriteString("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, c := range rep.Cells {
		if c.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | skipped: %s | | | | | | | | |\n", c.Target.Name, c.Target.Library, c.Target.Store, c.Workload, oneLine(c.Skipped))
			continue
		}
		allocs := "n/a"
		if c.Allocs >= 0 {
			allocs = fmt.Sprintf("%.0f", c.Allocs)
		}
		ref, _ := rep.find("express-redis", c.Workload)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", c.Target.Name, c.Target.Library, c.Target.Store,
			c.Workload, thousands(c.Result.RPS()), ms(c.Result.P50), ms(c.Result.P99), allocs, c.Result.Errors,
			micros(c.ServerCPU), times(c.ServerCPU, ref.ServerCPU), micros(c.StoreCPU), times(c.StoreCPU, ref.StoreCPU))
	}

	fmt.Fprintf(&b, "\nLost updates: %d rounds of %d concurrent requests on one session, each setting a different key; "+
		"the client keeps the cookie of the answer that arrived last, as a browser would.\n\n", rep.LostRounds, rep.LostN)
	b.WriteString("| target | sent | acknowledged (200) | kept | acknowledged but lost |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, l := range rep.Lost {
		if l.Target.Ceiling {
			continue
		}
		if l.Skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | |\n", l.Target.Name, oneLine(l.Skipped))
			continue
		}
		lostN := max(l.Acked-l.Kept, 0)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d (%.0f%%) |\n", l.Target.Name, l.Sent, l.Acked, l.Kept, lostN, 100*float64(lostN)/float64(max(l.Acked, 1)))
	}

	b.WriteString("\nGoals (computed from the table above):\n\n")
	for _, g := range rep.goals() {
		fmt.Fprintf(&b, "- %s\n", g)
	}
	return b.String()
}

// micros formats a CPU time per request in µs ("–" when not measured).
func micros(us float64) string {
	switch {
	case us < 0:
		return "–"
	case us < 10:
		return fmt.Sprintf("%.1f", us)
	}
	return fmt.Sprintf("%.0f", us)
}

// times formats us as a multiple of ref.
func times(us, ref float64) string {
	if us < 0 || ref <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", us/ref)
}

// oneLine keeps a message inside a table cell.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", "/")
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// goals checks the targets against the measured cells.
func (rep *report) goals() []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	ratio := func(a, b string, workload string) (float64, bool) {
		ca, ok1 := rep.find(a, workload)
		cb, ok2 := rep.find(b, workload)
		if !ok1 || !ok2 || cb.Result.RPS() == 0 {
			return 0, false
		}
		return ca.Result.RPS() / cb.Result.RPS(), true
	}
	for _, t := range []string{"sessionkit-redis", "sessionkit-redis-ap"} {
		if r, ok := ratio(t, "express-redis", "rmw"); ok {
			out = append(out, fmt.Sprintf("≥ 3× express-session + connect-redis on read-modify-write: %s is %.2f× — %s", t, r, verdict(r >= 3)))
		}
	}
	if len(out) == 0 {
		out = append(out, "≥ 3× express-session + connect-redis on read-modify-write: not measured")
	}
	pairs := [][2]string{
		{"sessionkit-mem", "scs-mem"},
		{"sessionkit-redis", "scs-redis"},
		{"sessionkit-redis", "gorilla-redis"},
		{"sessionkit-cookie", "gorilla-cookie"},
	}
	for _, p := range pairs {
		for _, w := range workloads {
			if r, ok := ratio(p[0], p[1], w.Name); ok {
				out = append(out, fmt.Sprintf("ahead of %s on %s: %s is %.2f× — %s", p[1], w.Name, p[0], r, verdict(r > 1)))
			}
		}
	}
	// Each Redis target against the ceiling sending the same commands the
	// same way.
	for _, p := range [][2]string{{"sessionkit-redis", "redis-bare"}, {"sessionkit-redis-ap", "redis-bare-ap"}} {
		for _, w := range workloads {
			if r, ok := ratio(p[0], p[1], w.Name); ok {
				out = append(out, fmt.Sprintf("≥ 85%% of the Redis ceiling on %s: %s is %.0f%% of %s — %s", w.Name, p[0], 100*r, p[1], verdict(r >= 0.85)))
			}
		}
	}

	// Server CPU per request against express-session + connect-redis.
	cpuGoal := func(name, workload string, fraction int) {
		c, ok1 := rep.find(name, workload)
		e, ok2 := rep.find("express-redis", workload)
		if !ok1 || !ok2 || c.ServerCPU < 0 || e.ServerCPU <= 0 {
			out = append(out, fmt.Sprintf("server CPU per request ≤ 1/%d of express-session + connect-redis's on %s: %s not measured", fraction, workload, name))
			return
		}
		r := c.ServerCPU / e.ServerCPU
		out = append(out, fmt.Sprintf("server CPU per request ≤ 1/%d of express-session + connect-redis's on %s: %s uses %s µs against %s µs, 1/%.1f — %s",
			fraction, workload, name, micros(c.ServerCPU), micros(e.ServerCPU), 1/r, verdict(r <= 1/float64(fraction))))
	}
	cpuGoal("sessionkit-redis", "rmw", 4)
	cpuGoal("sessionkit-redis-ap", "rmw", 4)
	cpuGoal("sessionkit-redis-nc", "read", 8)

	// The near cache.
	if r, ok := ratio("sessionkit-redis-nc", "redis-bare", "read"); ok {
		out = append(out, fmt.Sprintf("near cache read-only ≥ 1.5× the redis-bare ceiling: sessionkit-redis-nc is %.2f× — %s", r, verdict(r >= 1.5)))
	}
	if r, ok := ratio("sessionkit-redis-nc", "sessionkit-mem", "read"); ok {
		out = append(out, fmt.Sprintf("near cache read-only ≥ 90%% of sessionkit-mem: sessionkit-redis-nc is %.0f%% — %s", 100*r, verdict(r >= 0.9)))
	}
	nc, ok1 := rep.find("sessionkit-redis-nc", "read")
	plain, ok2 := rep.find("sessionkit-redis", "read")
	if ok1 && ok2 && nc.StoreCPU >= 0 && plain.StoreCPU > 0 {
		out = append(out, fmt.Sprintf("Redis CPU per cached read near zero (≤ 1/20 of sessionkit-redis's): sessionkit-redis-nc %s µs against %s µs — %s",
			micros(nc.StoreCPU), micros(plain.StoreCPU), verdict(nc.StoreCPU <= plain.StoreCPU/20)))
	}
	if r, ok := ratio("sessionkit-redis-nc", "sessionkit-redis", "rmw"); ok {
		out = append(out, fmt.Sprintf("near cache read-modify-write unchanged or better (≥ 95%% of sessionkit-redis's requests/s): %.0f%% — %s", 100*r, verdict(r >= 0.95)))
	}
	nc, ok1 = rep.find("sessionkit-redis-nc", "rmw")
	plain, ok2 = rep.find("sessionkit-redis", "rmw")
	if ok1 && ok2 && nc.ServerCPU >= 0 && nc.StoreCPU >= 0 && plain.ServerCPU+plain.StoreCPU > 0 {
		r := (nc.ServerCPU + nc.StoreCPU) / (plain.ServerCPU + plain.StoreCPU)
		out = append(out, fmt.Sprintf("near cache read-modify-write CPU unchanged or better (server + Redis per request ≤ 105%% of sessionkit-redis's): %s µs against %s µs, %.0f%% — %s",
			micros(nc.ServerCPU+nc.StoreCPU), micros(plain.ServerCPU+plain.StoreCPU), 100*r, verdict(r <= 1.05)))
	}
	// Not a goal: the ready-made client-side caches the near cache was
	// measured against.
	var mech []string
	for _, name := range []string{"sessionkit-redis-nc", "redis-bare-csc", "redis-bare-rueidis"} {
		for _, w := range workloads {
			if c, ok := rep.find(name, w.Name); ok {
				mech = append(mech, fmt.Sprintf("%s %s %s req/s, %s + %s µs", name, w.Name, thousands(c.Result.RPS()), micros(c.ServerCPU), micros(c.StoreCPU)))
			}
		}
	}
	if len(mech) > 0 {
		out = append(out, "for reference, client-side caches (requests/s, server + Redis CPU per request): "+strings.Join(mech, "; "))
	}
	return out
}

// writeSection replaces the text between the markers in path, or appends
// a "Cross-library HTTP benchmarks" section with the markers.
func writeSection(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	block := beginMarker + "\n\n" + md + "\n" + endMarker
	i := strings.Index(s, beginMarker)
	j := strings.Index(s, endMarker)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(endMarker):]
	} else {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n## Cross-library HTTP benchmarks\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// svg draws two panels with one pair of bars (read, rmw) per target:
// requests/s, and the CPU time per request of the server process with
// that of the store's server stacked after it.
func (rep *report) svg() string {
	type row struct {
		name          string
		rps           [2]float64
		server, store [2]float64 // µs per request, -1 when not measured
	}
	var rows []row
	var topRPS, topCPU float64
	for _, t := range allTargets {
		r := row{name: t.Name + " (" + t.Store + ")", server: [2]float64{-1, -1}, store: [2]float64{-1, -1}}
		any := false
		for i, w := range workloads {
			if c, ok := rep.find(t.Name, w.Name); ok {
				r.rps[i] = c.Result.RPS()
				r.server[i], r.store[i] = c.ServerCPU, c.StoreCPU
				topRPS = max(topRPS, r.rps[i])
				topCPU = max(topCPU, max(c.ServerCPU, 0)+max(c.StoreCPU, 0))
				any = true
			}
		}
		if any {
			rows = append(rows, r)
		}
	}
	topRPS, topCPU = max(topRPS, 1), max(topCPU, 1)
	const (
		width  = 980
		label  = 320
		barH   = 12
		rowH   = 2*barH + 10
		head   = 68
		right  = 110
		scaleW = width - label - right
		gap    = 40
	)
	panelH := len(rows)*rowH + 10
	cpuTop := head + panelH + gap
	height := cpuTop + 28 + panelH + 20
	colors := [2]string{"#4c78a8", "#f58518"}
	storeColors := [2]string{"#9ecae9", "#ffbf79"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">HTTP requests/s on loopback, %d clients (higher is better)</text>`+"\n", rep.Workers)
	fmt.Fprintf(&b, `<text x="10" y="36" font-size="11" fill="#555">%s, %d CPUs, load average %s at the start; %s warm-up, %s measured, median of %d passes per bar (bench/cmd/compare)</text>`+"\n",
		html.EscapeString(rep.GoVersion), rep.CPUs, html.EscapeString(rep.LoadStart), rep.Warmup, rep.Duration, rep.Passes)
	for i, w := range workloads {
		x := label + i*140
		fmt.Fprintf(&b, `<rect x="%d" y="46" width="12" height="12" fill="%s"/><text x="%d" y="56">%s</text>`+"\n", x, colors[i], x+16, html.EscapeString(workloadTitle(w.Name)))
	}
	for i, r := range rows {
		y := head + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", label-8, y+barH+4, html.EscapeString(r.name))
		for k := range 2 {
			wid := int(float64(scaleW) * r.rps[k] / topRPS)
			by := y + k*barH
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, label, by, max(wid, 1), barH-1, colors[k])
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text>`+"\n", label+wid+4, by+barH-2, thousands(r.rps[k]))
		}
	}

	fmt.Fprintf(&b, `<text x="10" y="%d" font-size="14" font-weight="bold">CPU time per request, µs (lower is better): server process, then the store's server (lighter)</text>`+"\n", cpuTop)
	for i, w := range workloads {
		x := label + i*170
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, cpuTop+8, colors[i], x+12, cpuTop+8, storeColors[i], x+30, cpuTop+18, html.EscapeString(workloadTitle(w.Name)))
	}
	for i, r := range rows {
		y := cpuTop + 28 + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", label-8, y+barH+4, html.EscapeString(r.name))
		for k := range 2 {
			by := y + k*barH
			if r.server[k] < 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">not measured</text>`+"\n", label+4, by+barH-2)
				continue
			}
			sw := int(float64(scaleW) * r.server[k] / topCPU)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, label, by, max(sw, 1), barH-1, colors[k])
			text := micros(r.server[k])
			end := label + sw
			if r.store[k] >= 0 {
				stw := int(float64(scaleW) * r.store[k] / topCPU)
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, end, by, stw, barH-1, storeColors[k])
				end += stw
				text += " + " + micros(r.store[k])
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text>`+"\n", end+4, by+barH-2, text)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func workloadTitle(name string) string {
	if name == "rmw" {
		return "read-modify-write"
	}
	return "read-only"
}
