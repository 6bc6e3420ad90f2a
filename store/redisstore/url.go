package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/urlredact"
)

// ParseURL turns a Redis URL into options for redis.NewUniversalClient.
// The forms are (brackets mark optional parts):
//
//	redis://[[user]:password@]host[:port][/db][?option=value&...]
//	redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?...]
//	redis+cluster://[[user]:password@]host[:port][,host[:port]...][?...]
//
// Each scheme also has a TLS variant: rediss://, rediss+sentinel://,
// rediss+cluster://. The default port is 6379, and 26379 for sentinels.
// The user and password are percent-decoded and authenticate to the Redis
// servers; for sentinel URLs they are not sent to the sentinels unless
// the options sentinel_username and sentinel_password say so. A cluster
// has no database number.
//
// Options (all optional): dial_timeout, read_timeout, write_timeout and
// pool_timeout (Go durations such as 500ms or 3s; 0 is go-redis's default,
// and a negative read_timeout or write_timeout disables that timeout,
// leaving the context's deadline), pool_size,
// min_idle_conns, max_retries (-1 disables retries), protocol (2 or 3),
// client_name, and for sentinel URLs sentinel_username and
// sentinel_password. Anything else is an error.
//
// The options returned have ContextTimeoutEnabled set, so every command
// is bounded by its context's deadline.
func ParseURL(rawURL string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("redisstore: URL %q has no scheme", Redact(rawURL))
	}
	fail := func(format string, args ...any) (*redis.UniversalOptions, error) {
		return nil, fmt.Errorf("redisstore: URL %q: %s", Redact(rawURL), fmt.Sprintf(format, args...))
	}

	var mode string
	tlsOn := false
	switch strings.ToLower(scheme) {
	case "redis":
		mode = "single"
	case "rediss":
		mode, tlsOn = "single", true
	case "redis+sentinel":
		mode = "sentinel"
	case "rediss+sentinel":
		mode, tlsOn = "sentinel", true
	case "redis+cluster":
		mode = "cluster"
	case "rediss+cluster":
		mode, tlsOn = "cluster", true
	default:
		return fail("unknown scheme %q (want redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster)", scheme)
	}

	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return fail("fragments are not allowed")
	}
	rawQuery := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, rawQuery = rest[:i], rest[i+1:]
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}

	o := &redis.UniversalOptions{ContextTimeoutEnabled: true}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return fail("bad user name: %v", err)
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return fail("bad password")
			}
		}
	}

	defaultPort := "6379"
	if mode == "sentinel" {
		defaultPort = "26379"
	}
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return fail("%v", err)
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if mode == "single" && len(o.Addrs) != 1 {
		return fail("a %s URL names one host; use redis+cluster:// or redis+sentinel:// for several", scheme)
	}

	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	dbSeg := ""
	switch mode {
	case "single":
		if len(segs) > 1 {
			return fail("path must be /db")
		}
		if len(segs) == 1 {
			dbSeg = segs[0]
		}
	case "sentinel":
		if len(segs) < 1 || len(segs) > 2 {
			return fail("path must be /master or /master/db")
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil || name == "" {
			return fail("bad master name %q", segs[0])
		}
		o.MasterName = name
		if len(segs) == 2 {
			dbSeg = segs[1]
		}
	case "cluster":
		if len(segs) > 0 {
			return fail("a cluster URL has no path (Redis Cluster has no databases)")
		}
		o.IsClusterMode = true
	}
	if dbSeg != "" {
		db, err := strconv.Atoi(dbSeg)
		if err != nil || db < 0 {
			return fail("bad database number %q", dbSeg)
		}
		o.DB = db
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fail("bad query: %v", err)
	}
	for name, vals := range q {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "dial_timeout":
			o.DialTimeout, err = parseWait(v)
		case "read_timeout":
			o.ReadTimeout, err = parseDuration(v)
		case "write_timeout":
			o.WriteTimeout, err = parseDuration(v)
		case "pool_timeout":
			o.PoolTimeout, err = parseWait(v)
		case "pool_size":
			o.PoolSize, err = parseInt(v, 1)
		case "min_idle_conns":
			o.MinIdleConns, err = parseInt(v, 0)
		case "max_retries":
			o.MaxRetries, err = parseInt(v, -1)
		case "protocol":
			o.Protocol, err = parseInt(v, 2)
			if err == nil && o.Protocol > 3 {
				err = fmt.Errorf("want 2 or 3")
			}
		case "client_name":
			o.ClientName = v
		case "sentinel_username", "sentinel_password":
			if mode != "sentinel" {
				return fail("option %s is only for redis+sentinel URLs", name)
			}
			if name == "sentinel_username" {
				o.SentinelUsername = v
			} else {
				o.SentinelPassword = v
			}
		default:
			return fail("unknown option %q", name)
		}
		if err != nil {
			return fail("option %s=%q: %v", name, v, err)
		}
	}

	if tlsOn {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	return o, nil
}

// hostPort validates one host[:port] of a URL and adds the default port.
func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare host name, IPv4 address or [IPv6] address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
			return "", fmt.Errorf("bad host %q", h)
		}
	}
	if host == "" {
		return "", fmt.Errorf("bad host %q", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad port in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return -1, nil // go-redis: negative disables the timeout
	}
	return d, nil
}

// parseWait parses dial_timeout and pool_timeout, which go-redis cannot
// disable: a negative value would make every dial, or every wait for a
// pooled connection, fail at once.
func parseWait(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("must not be negative (0 is go-redis's default)")
	}
	return d, nil
}

func parseInt(v string, minimum int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	if n < minimum {
		return 0, fmt.Errorf("must be at least %d", minimum)
	}
	return n, nil
}

// Redact returns rawURL with any password (in the user info or the
// sentinel_password option) replaced by "xxxxx", for logs and error
// messages.
func Redact(rawURL string) string {
	return urlredact.Redact(rawURL, func(option string) bool { return option == "sentinel_password" })
}
