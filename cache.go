package sessionkit

import (
	"net/http"
	"strings"
)

// Responses and shared caches (RFC 9111).
//
// A response that depends on the session must not be served by a shared
// cache to a request with another session, and a response that hands out a
// session token must never be stored by one: a CDN that kept a Set-Cookie
// would give every later visitor the same session. When the response
// headers go out, the Manager therefore
//
//   - adds the header the token travels in (Cookie, or the
//     HeaderTransport's request header) to Vary whenever the handler used
//     the session, and
//   - when it sets or clears the token, makes sure the response's
//     Cache-Control keeps shared caches from storing the token: it sets
//     "private" when the handler set no Cache-Control, and otherwise adds
//     private="Set-Cookie" (or the header transport's response header)
//     unless the handler's directives already forbid shared storage
//     (private, no-store). A cache that does not know the qualified form
//     treats it as plain private. The handler's own directives are kept,
//     unless they cannot be read (an unterminated quoted string, which
//     would swallow what follows): then the value is "private".

// TokenHeaderer is implemented by a custom Transport that carries its
// token in HTTP headers, so that the Manager protects its responses from
// shared caches as it does for CookieTransport and HeaderTransport (see
// the package documentation, "Shared caches"). request, the header the
// client sends the token in, is added to Vary on every response whose
// handler used the session; response, the header that hands out the
// token, is named in the private="..." Cache-Control directive when the
// token is set or cleared. Either may be "": an empty request adds
// nothing to Vary, and an empty response is named as Set-Cookie. A custom
// Transport that does not implement TokenHeaderer gets no Vary, and its
// token-setting responses get Cache-Control private (or
// private="Set-Cookie" beside the handler's own directives).
// CookieTransport and HeaderTransport implement it, so a Transport that
// embeds one of them (to add logging, say) inherits their headers.
type TokenHeaderer interface {
	TokenHeaders() (request, response string)
}

// tokenHeaders returns the request header that carries t's token and the
// response header that sets it, or "" for transports that do not say.
// CookieTransport and HeaderTransport implement TokenHeaderer, so a custom
// Transport embedding one of them is protected as they are.
func tokenHeaders(t Transport) (request, response string) {
	if t, ok := t.(TokenHeaderer); ok {
		return t.TokenHeaders()
	}
	return "", ""
}

// addVary adds field to h's Vary unless it is listed already (or Vary is
// "*"). When h has no Vary, the new one is backed by buf, so as not to
// allocate; its capacity is one, so a later append copies it.
func addVary(h http.Header, field string, buf *[1]string) {
	if field == "" {
		return
	}
	// "Vary" is in canonical form: index the map directly, without
	// Header.Values canonicalising it again.
	lines := h["Vary"]
	if len(lines) == 0 {
		buf[0] = field
		h["Vary"] = buf[:1:1]
		return
	}
	for _, line := range lines {
		for v := range strings.SplitSeq(line, ",") {
			v = strings.TrimSpace(v)
			if v == "*" || strings.EqualFold(v, field) {
				return
			}
		}
	}
	h["Vary"] = append(lines, field)
}

// keepTokenPrivate makes h's Cache-Control forbid shared caches from
// storing the response header field that carries a token (see above).
func keepTokenPrivate(h http.Header, field string) {
	lines := h.Values("Cache-Control")
	if len(lines) == 0 {
		h.Set("Cache-Control", "private")
		return
	}
	for _, line := range lines {
		ds, ok := parseCacheControl(line)
		if !ok {
			// An unterminated quoted string would swallow anything
			// appended: a value a cache cannot read is replaced.
			h.Set("Cache-Control", "private")
			return
		}
		for _, d := range ds {
			if (d.name == "private" && !d.hasArg) || d.name == "no-store" {
				return
			}
		}
	}
	if field == "" {
		field = "Set-Cookie"
	}
	h.Set("Cache-Control", strings.Join(lines, ", ")+`, private="`+field+`"`)
}

type cacheDirective struct {
	name   string // lower case
	hasArg bool
}

// cacheDirectives splits a Cache-Control value into its directives,
// honouring quoted arguments (no-cache="Set-Cookie, Foo"). What cannot be
// read is skipped.
func cacheDirectives(v string) []cacheDirective {
	ds, _ := parseCacheControl(v)
	return ds
}

// parseCacheControl is cacheDirectives that also reports whether every
// quoted string was closed.
func parseCacheControl(v string) (ds []cacheDirective, ok bool) {
	ok = true
	for v != "" {
		i := strings.IndexAny(v, ",=")
		if i < 0 {
			i = len(v)
		}
		d := cacheDirective{name: strings.ToLower(strings.TrimSpace(v[:i]))}
		v = v[i:]
		if strings.HasPrefix(v, "=") {
			d.hasArg = true
			v = strings.TrimLeft(v[1:], " \t")
			if strings.HasPrefix(v, `"`) {
				var closed bool
				v, closed = skipQuoted(v[1:])
				ok = ok && closed
			}
			if j := strings.IndexByte(v, ','); j >= 0 {
				v = v[j:]
			} else {
				v = ""
			}
		}
		v = strings.TrimPrefix(v, ",")
		if d.name != "" {
			ds = append(ds, d)
		}
	}
	return ds, ok
}

// skipQuoted returns what follows the closing quote of a quoted string
// whose opening quote has been consumed, and whether there was one.
func skipQuoted(v string) (rest string, closed bool) {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return v[i+1:], true
		}
	}
	return "", false
}
