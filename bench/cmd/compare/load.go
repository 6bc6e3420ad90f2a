package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// client is one simulated browser: its own cookies, sharing the keep-alive
// connection pool of the load generator.
type client struct {
	hc      *http.Client
	base    string
	cookies map[string]string
	header  string // Cookie header built from cookies
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
		// Never follow redirects: every answer is counted as it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newClient(hc *http.Client, base string) *client {
	return &client{hc: hc, base: base, cookies: map[string]string{}}
}

// response is what one request returned.
type response struct {
	code    int
	body    string
	cookies []string // name=value of each Set-Cookie
}

// get sends GET path with the client's cookies without adopting the
// cookies of the answer.
func (c *client) get(ctx context.Context, path string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return response{}, err
	}
	if c.header != "" {
		req.Header.Set("Cookie", c.header)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, err
	}
	r := response{code: resp.StatusCode, body: string(b)}
	for _, line := range resp.Header["Set-Cookie"] {
		nv, _, _ := strings.Cut(line, ";")
		r.cookies = append(r.cookies, strings.TrimSpace(nv))
	}
	return r, nil
}

// do is get followed by adopting the answer's cookies, as a browser does.
func (c *client) do(ctx context.Context, path string) (response, error) {
	r, err := c.get(ctx, path)
	if err == nil {
		c.adopt(r.cookies)
	}
	return r, err
}

// adopt stores Set-Cookie name=value pairs (an empty value or an expired
// cookie deletes it, close enough for the targets here).
func (c *client) adopt(cookies []string) {
	if len(cookies) == 0 {
		return
	}
	for _, nv := range cookies {
		name, value, _ := strings.Cut(nv, "=")
		if value == "" {
			delete(c.cookies, name)
		} else {
			c.cookies[name] = value
		}
	}
	parts := make([]string, 0, len(c.cookies))
	for n, v := range c.cookies {
		parts = append(parts, n+"="+v)
	}
	slices.Sort(parts)
	c.header = strings.Join(parts, "; ")
}

// loadResult is one measured cell.
type loadResult struct {
	Requests  int
	Errors    int // transport errors and non-200 answers
	Seconds   float64
	P50, P99  time.Duration
	FirstFail string
	// CPU is the CPU time each probe given to runLoad used over the
	// measured window (-1 where it could not be read).
	CPU []time.Duration
}

func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Seconds }

// runLoad drives workers clients, each with its own session created by one
// /write, against path for warmup (not measured) and then duration, and
// samples the CPU time of probes when the measured window opens and when
// it closes.
func runLoad(ctx context.Context, base, path string, workers int, warmup, duration time.Duration, probes []cpuProbe) (loadResult, error) {
	hc := newHTTPClient(workers)
	defer hc.CloseIdleConnections()
	clients := make([]*client, workers)
	for i := range clients {
		c := newClient(hc, base)
		r, err := c.do(ctx, "/write")
		if err != nil {
			return loadResult{}, fmt.Errorf("create session: %w", err)
		}
		if r.code != http.StatusOK {
			return loadResult{}, fmt.Errorf("create session: %d %s", r.code, r.body)
		}
		clients[i] = c
	}

	start := time.Now()
	measureFrom := start.Add(warmup)
	stopAt := measureFrom.Add(duration)
	var cpuBefore, cpuAfter cpuSample
	sampled := make(chan bool, 1)
	go func() {
		ok := sleepUntil(ctx, measureFrom)
		if ok {
			cpuBefore = sampleCPU(probes)
			ok = sleepUntil(ctx, stopAt)
		}
		if ok {
			cpuAfter = sampleCPU(probes)
		}
		sampled <- ok
	}()
	type tally struct {
		lat       []time.Duration
		errors    int
		firstFail string
	}
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	for i, c := range clients {
		rc, err := newRawConn(base)
		if err != nil {
			return loadResult{}, err
		}
		wg.Go(func() {
			defer rc.close()
			t := &tallies[i]
			t.lat = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					return
				}
				code, body, setCookies, err := rc.do(ctx, path, c.header)
				if err == nil {
					c.adopt(setCookies)
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(stopAt) {
					continue
				}
				if err != nil || code != http.StatusOK {
					t.errors++
					if t.firstFail == "" {
						if err != nil {
							t.firstFail = err.Error()
						} else {
							t.firstFail = strconv.Itoa(code) + " " + strings.TrimSpace(string(body))
						}
					}
					continue
				}
				t.lat = append(t.lat, t1.Sub(t0))
			}
		})
	}
	wg.Wait()
	cpuOK := <-sampled
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	var res loadResult
	for i := range probes {
		d := time.Duration(-1)
		if cpuOK {
			d = cpuOver(cpuBefore, cpuAfter, i, duration)
		}
		res.CPU = append(res.CPU, d)
	}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		res.Errors += t.errors
		if res.FirstFail == "" {
			res.FirstFail = t.firstFail
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.Seconds = duration.Seconds()
	if len(all) > 0 {
		res.P50 = all[len(all)*50/100]
		res.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return res, nil
}

// lostUpdates creates a session, sends n concurrent /set?k=kI requests on
// it carrying the same cookie, adopts the cookies of the answer that
// arrived last (as a browser would), and returns how many of the requests
// were acknowledged (200) and how many keys the session then holds
// according to /count. A request refused with an error status was never
// acknowledged, so its key missing is not a lost update.
func lostUpdates(ctx context.Context, base string, n int) (acked, kept int, err error) {
	hc := newHTTPClient(n)
	defer hc.CloseIdleConnections()
	c := newClient(hc, base)
	if r, err := c.do(ctx, "/write"); err != nil || r.code != http.StatusOK {
		return 0, 0, fmt.Errorf("create session: %v %d %s", err, r.code, r.body)
	}
	var (
		mu   sync.Mutex
		last []string
		wg   sync.WaitGroup
	)
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			r, err := c.get(ctx, fmt.Sprintf("/set?k=k%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil || r.code != http.StatusOK {
				return
			}
			acked++
			if len(r.cookies) > 0 {
				last = r.cookies
			}
		})
	}
	close(gate)
	wg.Wait()
	c.adopt(last)
	r, err := c.do(ctx, "/count")
	if err != nil {
		return 0, 0, err
	}
	if r.code != http.StatusOK {
		return 0, 0, fmt.Errorf("/count: %d %s", r.code, r.body)
	}
	kept, err = strconv.Atoi(strings.TrimSpace(r.body))
	return acked, kept, err
}

// sleepUntil waits until t; it returns false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
