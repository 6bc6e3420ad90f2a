// Package browser is a test client that treats cookies as a browser does,
// on a clock the test controls: Max-Age and Expires are honoured against
// that clock, Secure cookies are kept and sent only over https, Path and
// host-only rules apply, and a browser restart drops session cookies.
// net/http/cookiejar reads the wall clock, so a test cannot move time for
// it; with this jar the server (Manager.Now) and the client share one
// fake clock, and hours of a session's life take no time.
//
// A Client can also stand behind a TLS-terminating proxy: requests go to
// the test server over plain HTTP while the cookie rules follow the public
// https URL, and the proxy's forwarding headers are added.
package browser

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Clock is a fake clock that only moves when told to. It starts at the
// wall clock's now, so stores that read their own clock see times no
// earlier than theirs. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to time.Now().
func NewClock() *Clock { return NewClockAt(time.Now()) }

// NewClockAt returns a Clock set to t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Cookie is a cookie as the jar keeps it.
type Cookie struct {
	Name, Value  string
	Domain, Path string
	HostOnly     bool
	Secure       bool
	HttpOnly     bool
	// Expires is when the jar drops the cookie; zero for a session
	// cookie, which lives until Restart.
	Expires time.Time
}

// Jar is an http.CookieJar that follows RFC 6265's storage model on a
// given clock. It is safe for concurrent use.
type Jar struct {
	now     func() time.Time
	mu      sync.Mutex
	cookies []Cookie
}

// NewJar returns an empty jar reading time from now.
func NewJar(now func() time.Time) *Jar { return &Jar{now: now} }

// SetCookies implements http.CookieJar: it stores the Set-Cookie values of
// a response from u.
func (j *Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	host := canonicalHost(u)
	for _, c := range cookies {
		if c.Secure && u.Scheme != "https" {
			continue // a non-secure origin cannot set a Secure cookie
		}
		k := Cookie{Name: c.Name, Value: c.Value, Secure: c.Secure, HttpOnly: c.HttpOnly, Path: c.Path}
		if k.Path == "" || k.Path[0] != '/' {
			k.Path = defaultPath(u.Path)
		}
		if d := strings.TrimPrefix(strings.ToLower(c.Domain), "."); d == "" {
			k.Domain, k.HostOnly = host, true
		} else if domainMatch(host, d) {
			k.Domain = d
		} else {
			continue // a domain the origin may not set
		}
		switch {
		case c.MaxAge < 0:
			k.Expires = now // Max-Age=0 or negative: delete
		case c.MaxAge > 0:
			k.Expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			k.Expires = c.Expires
		}
		j.remove(k.Name, k.Domain, k.Path)
		if k.Expires.IsZero() || k.Expires.After(now) {
			j.cookies = append(j.cookies, k)
		}
	}
}

func (j *Jar) remove(name, domain, path string) {
	out := j.cookies[:0]
	for _, c := range j.cookies {
		if c.Name != name || c.Domain != domain || c.Path != path {
			out = append(out, c)
		}
	}
	j.cookies = out
}

// Cookies implements http.CookieJar: the cookies a request to u carries,
// longest path first.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.matching(u) {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

// Lookup returns the cookie named name that a request to u would carry.
func (j *Jar) Lookup(u *url.URL, name string) (Cookie, bool) {
	for _, c := range j.matching(u) {
		if c.Name == name {
			return c, true
		}
	}
	return Cookie{}, false
}

func (j *Jar) matching(u *url.URL) []Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	host := canonicalHost(u)
	path := u.Path
	if path == "" {
		path = "/"
	}
	var out []Cookie
	live := j.cookies[:0]
	for _, c := range j.cookies {
		if !c.Expires.IsZero() && !c.Expires.After(now) {
			continue // expired: dropped
		}
		live = append(live, c)
		if c.Secure && u.Scheme != "https" {
			continue
		}
		if c.HostOnly && host != c.Domain || !c.HostOnly && !domainMatch(host, c.Domain) {
			continue
		}
		if !pathMatch(path, c.Path) {
			continue
		}
		out = append(out, c)
	}
	j.cookies = live
	// Longer paths first, as browsers send them.
	for i := 1; i < len(out); i++ {
		for k := i; k > 0 && len(out[k].Path) > len(out[k-1].Path); k-- {
			out[k], out[k-1] = out[k-1], out[k]
		}
	}
	return out
}

// Restart is a browser that was closed and opened again: session cookies
// are gone, persistent ones stay.
func (j *Jar) Restart() {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.cookies[:0]
	for _, c := range j.cookies {
		if !c.Expires.IsZero() {
			out = append(out, c)
		}
	}
	j.cookies = out
}

func canonicalHost(u *url.URL) string {
	h := u.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	if net.ParseIP(host) != nil {
		return false
	}
	return strings.HasSuffix(host, "."+domain)
}

func defaultPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// Client is a browser talking to one test server. Requests go to Server;
// cookies are kept and sent as for Public (by default the same URL), so
// a client can play a browser on https://app.example behind a proxy that
// forwards to the server over plain HTTP, adding Header to every request
// (X-Forwarded-Proto and the like). Redirects are not followed.
type Client struct {
	Jar    *Jar
	Server *url.URL
	Public *url.URL
	Header http.Header
	// Check, if set, is called with every response before it is
	// returned, to assert invariants that must hold on all of them.
	Check func(*http.Response)

	hc *http.Client
}

// NewClient returns a client of the server at serverURL whose jar reads
// time from now.
func NewClient(serverURL string, now func() time.Time) (*Client, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	return &Client{
		Jar:    NewJar(now),
		Server: u,
		Public: u,
		Header: http.Header{},
		hc: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Do sends a request for path (with its query) and returns the response,
// whose body has been read into body.
func (c *Client) Do(method, path string) (resp *http.Response, body string, err error) {
	public := c.Public.ResolveReference(&url.URL{Path: pathOnly(path), RawQuery: query(path)})
	target := c.Server.ResolveReference(&url.URL{Path: pathOnly(path), RawQuery: query(path)})
	req, err := http.NewRequest(method, target.String(), nil)
	if err != nil {
		return nil, "", err
	}
	for k, vs := range c.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if method != http.MethodGet && method != http.MethodHead {
		// A same-origin form post, as a browser sends it.
		req.Header.Set("Origin", c.Public.Scheme+"://"+c.Public.Host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	var parts []string
	for _, ck := range c.Jar.Cookies(public) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) > 0 {
		req.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	resp, err = c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("read %s %s: %w", method, path, err)
	}
	c.Jar.SetCookies(public, resp.Cookies())
	if c.Check != nil {
		c.Check(resp)
	}
	return resp, strings.TrimSpace(string(b)), nil
}

// Cookie returns the cookie named name the browser would send to the
// public URL now.
func (c *Client) Cookie(name string) (Cookie, bool) {
	return c.Jar.Lookup(c.Public, name)
}

func pathOnly(p string) string {
	path, _, _ := strings.Cut(p, "?")
	return path
}

func query(p string) string {
	_, q, _ := strings.Cut(p, "?")
	return q
}
