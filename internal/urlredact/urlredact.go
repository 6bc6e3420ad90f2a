// Package urlredact finds and hides the passwords in store URLs, for the
// packages that print them in messages and logs (redisstore, storeurl).
package urlredact

import (
	"net/url"
	"strings"
)

// Redact returns rawURL with the password in its user information, and the
// value of every query option secret reports true for, replaced by
// "xxxxx". A string without "://" is returned as it is.
func Redact(rawURL string, secret func(option string) bool) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	if from, to, ok := PasswordSpan(scheme, rest); ok {
		rest = rest[:from] + "xxxxx" + rest[to:]
	}
	if base, query, ok := strings.Cut(rest, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok && secret(name) {
				params[i] = name + "=xxxxx"
			}
		}
		rest = base + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

// PasswordSpan returns where the password is in rest, the part of a URL
// after "://". Normally the user information ends at the last '@' before
// the first '/', '?' or '#'. A password that contains one of those
// unescaped (a generated password with '/') breaks that reading: then the
// URL does not parse, or parses with an '@' in its path or its first query
// option, and the password is taken to run from the first ':' to the last
// '@', so that it is never shown even if more is hidden than needed.
// scheme may be "" when it is not known.
func PasswordSpan(scheme, rest string) (from, to int, ok bool) {
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		colon := strings.IndexByte(rest[:at], ':')
		if colon < 0 {
			return 0, 0, false
		}
		return colon + 1, at, true
	}
	at := strings.LastIndexByte(rest, '@')
	colon := strings.IndexByte(rest, ':')
	if at < 0 || colon < 0 || colon > at || strings.ContainsAny(rest[:colon], "/?#") {
		return 0, 0, false
	}
	if scheme == "" {
		scheme = "x"
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err == nil && !strings.Contains(u.Path, "@") && !strings.Contains(u.Fragment, "@") {
		first, _, _ := strings.Cut(u.RawQuery, "&")
		if name, _, _ := strings.Cut(first, "="); !strings.Contains(name, "@") {
			return 0, 0, false // the '@' is in an option's value
		}
	}
	return colon + 1, at, true
}
