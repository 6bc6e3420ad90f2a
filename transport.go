package sessionkit

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Transport carries the session token between client and server. The
// Manager validates whatever Token returns, so a transport need not
// understand tokens; it must only never panic on client input.
type Transport interface {
	// Token returns the token the request carries, or "" when it carries
	// none that the transport accepts (absent, oversized, unsigned or
	// badly signed).
	Token(r *http.Request) string
	// SetToken tells the client to present token from now on. A zero
	// expires means "until the browser closes" where that applies.
	SetToken(w http.ResponseWriter, r *http.Request, token string, expires time.Time)
	// ClearToken tells the client to forget its token.
	ClearToken(w http.ResponseWriter, r *http.Request)
}

// SecureMode says when cookies get the Secure attribute.
type SecureMode int

const (
	// SecureAuto sets Secure when the request arrived over TLS, or over
	// plain HTTP from a proxy trusted by Manager.Proxies that says
	// X-Forwarded-Proto: https.
	SecureAuto SecureMode = iota
	// SecureAlways always sets Secure (browsers then refuse the cookie on
	// plain http://, except on localhost).
	SecureAlways
	// SecureNever never sets Secure. Only for development.
	SecureNever
)

// DefaultMaxTokenSize is the largest cookie or header value a transport
// reads; browsers keep at most about 4096 bytes per cookie.
const DefaultMaxTokenSize = 4096

// CookieTransport carries the token in a cookie. The zero value is not
// ready: use the one New puts in Manager.Cookie, or DefaultCookie.
// Manager.Handler refuses settings browsers or net/http would not keep (see
// there). SameSite=None and Partitioned cookies, and names that begin
// with __Secure- or __Host-, are refused by browsers without Secure, so
// with SecureAuto they work only over HTTPS.
type CookieTransport struct {
	Name        string
	Domain      string
	Path        string
	Secure      SecureMode
	HttpOnly    bool
	SameSite    http.SameSite
	Partitioned bool
	// Signer, if set, signs the cookie value; tokens whose signature does
	// not verify are ignored. A cookie an HMACSigner verifies with a
	// retired key is sent again, signed with the current one, by the next
	// request that uses its session (a read is enough).
	Signer Signer
	// DetachedSigner, if set, signs the cookie in a second cookie, as
	// Node's cookies package does for Koa and cookie-session: next to
	// Name=value the client holds Name+".sig" =
	// DetachedSigner.Sign(Name+"="+value), set and cleared with the same
	// attributes. A value whose signature cookie is missing or does not
	// verify is ignored; one signed with a retired key is accepted, and
	// the next request that uses its session sends the signature cookie
	// again, signed with the current key — that cookie alone, as Node's
	// cookies package does, when the request sends no new token (so a
	// read does not extend the cookie's expiry), both cookies otherwise.
	// It applies after Signer when both are set.
	DetachedSigner DetachedSigner
	// MaxSize bounds the cookie value read and written (default
	// DefaultMaxTokenSize). A longer incoming value is ignored; writing a
	// longer one is the Manager's ErrTooLarge.
	MaxSize int
}

// DefaultCookie returns the cookie settings New starts from: name
// "session", Path "/", HttpOnly, SameSite=Lax, Secure when the request is
// HTTPS.
func DefaultCookie() CookieTransport {
	return CookieTransport{
		Name:     "session",
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   SecureAuto,
		MaxSize:  DefaultMaxTokenSize,
	}
}

// check reports cookie settings that would make every cookie the Manager
// sends one that net/http drops or alters, or that browsers refuse.
func (c *CookieTransport) check() error {
	if c.Secure < SecureAuto || c.Secure > SecureNever {
		return fmt.Errorf("sessionkit: unknown cookie Secure mode %d", int(c.Secure))
	}
	if c.SameSite < 0 || c.SameSite > http.SameSiteNoneMode {
		return fmt.Errorf("sessionkit: unknown cookie SameSite mode %d", int(c.SameSite))
	}
	if !strings.HasPrefix(c.Path, "/") {
		// RFC 6265 5.2.4: the browser then scopes the cookie to the
		// directory of whichever URL set it.
		return fmt.Errorf("sessionkit: cookie Path %q does not start with \"/\": browsers would keep the cookie only under the directory of the URL that set it", c.Path)
	}
	ck := c.cookie(c.Secure != SecureNever, "")
	if err := ck.Valid(); err != nil {
		return fmt.Errorf("sessionkit: cookie settings (Name %q, Path %q, Domain %q): %w", c.Name, c.Path, c.Domain, err)
	}
	if c.Secure == SecureNever && (c.SameSite == http.SameSiteNoneMode || c.Partitioned) {
		return errors.New("sessionkit: SameSite=None and Partitioned cookies need Secure, but the cookie's Secure is SecureNever: browsers refuse them")
	}
	// RFC 6265bis 4.1.3: browsers keep a __Secure- cookie only with
	// Secure, and a __Host- cookie only with Secure, Path=/ and no Domain.
	// Browsers match the prefixes without regard to case.
	hostPrefix := hasPrefixFold(c.Name, "__Host-")
	if c.Secure == SecureNever && (hostPrefix || hasPrefixFold(c.Name, "__Secure-")) {
		return fmt.Errorf("sessionkit: cookie Name %q needs Secure, but the cookie's Secure is SecureNever: browsers refuse it", c.Name)
	}
	if hostPrefix && (c.Domain != "" || c.Path != "/") {
		return fmt.Errorf("sessionkit: cookie Name %q needs Path \"/\" and no Domain (Path %q, Domain %q): browsers refuse it", c.Name, c.Path, c.Domain)
	}
	if hs, ok := c.Signer.(*HMACSigner); ok && (hs == nil || len(hs.keys) == 0) {
		return errors.New("sessionkit: the cookie's HMACSigner has no keys: create it with NewHMACSigner")
	}
	return nil
}

// hasPrefixFold reports whether s begins with prefix, ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (c *CookieTransport) maxSize() int {
	if c.MaxSize > 0 {
		return c.MaxSize
	}
	return DefaultMaxTokenSize
}

// A DetachedSigner signs a cookie in a second cookie (see
// CookieTransport.DetachedSigner), as compat/keygrip does.
// Implementations must be safe for concurrent use and must compare in
// constant time.
type DetachedSigner interface {
	// Sign returns the signature of data with the current key.
	Sign(data string) string
	// Verify reports whether sig is data's signature by one of the
	// signer's keys, and whether that key is a retired one (stale), so
	// that the cookie must be signed again.
	Verify(data, sig string) (ok, stale bool)
}

// SignatureSuffix is appended to the cookie name to name the signature
// cookie of a CookieTransport with a DetachedSigner.
const SignatureSuffix = ".sig"

// Token implements Transport. When the request carries several cookies of
// the name, the first one that is within size (and verifies, with a
// Signer or DetachedSigner) wins; browsers send the most specific path
// first.
func (c *CookieTransport) Token(r *http.Request) string {
	token, _, _ := c.token(r)
	return token
}

// token is Token, also reporting whether the cookie must be sent again
// because its value carries a signature by a retired key (stale, with a
// Signer), or whether only its DetachedSigner signature cookie is by a
// retired key (staleSig): then the signature cookie alone is sent again,
// as Node's cookies package does, and the cookie keeps its expiry.
func (c *CookieTransport) token(r *http.Request) (token string, stale, staleSig bool) {
	sig := ""
	if c.DetachedSigner != nil {
		// As Node's cookies package, the first signature cookie is the
		// one that counts.
		if sig = c.cookieValue(r, c.Name+SignatureSuffix); sig == "" {
			return "", false, false
		}
	}
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != c.Name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v == "" || len(v) > c.maxSize() || !validCookieValue(v) {
				continue
			}
			stale, staleSig = false, false
			if c.DetachedSigner != nil {
				ok, old := c.DetachedSigner.Verify(c.Name+"="+v, sig)
				if !ok {
					continue
				}
				staleSig = old
			}
			if rs, rotating := c.Signer.(RotatingSigner); rotating {
				token, ok, retired := rs.VerifyRotation(v)
				if !ok {
					continue
				}
				v, stale = token, retired
			} else if c.Signer != nil {
				token, ok := c.Signer.Verify(v)
				if !ok {
					continue
				}
				v = token
			}
			if staleSig && c.Signer != nil {
				// The value is signed too: send the whole cookie again.
				stale, staleSig = true, false
			}
			return v, stale, staleSig
		}
	}
	return "", false, false
}

// cookieValue returns the first well-formed value of the cookie name
// within the size limit, or "".
func (c *CookieTransport) cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v == "" || len(v) > c.maxSize() || !validCookieValue(v) {
				return ""
			}
			return v
		}
	}
	return ""
}

// requestToken returns the token r carries through t, whether t wants it
// sent again (a cookie signed with a retired key), and whether only its
// detached signature cookie must be sent again (see CookieTransport.token).
func requestToken(t Transport, r *http.Request) (token string, stale, staleSig bool) {
	if ct, ok := t.(*CookieTransport); ok {
		return ct.token(r)
	}
	return t.Token(r), false, false
}

// sentToken reports whether r carries a token for t, usable or not: a
// client that sent none has nothing to be told to forget.
func sentToken(t Transport, r *http.Request) bool {
	return presentsToken(t, r) || t.Token(r) != ""
}

// presentsToken reports whether r carries something in t's place for a
// token (a non-empty cookie of its name, a header value with its scheme),
// so that a refused one can be reported as a bad token. Transports other
// than the package's own are not asked.
func presentsToken(t Transport, r *http.Request) bool {
	switch t := t.(type) {
	case *CookieTransport:
		for _, line := range r.Header["Cookie"] {
			for line != "" {
				var part string
				part, line, _ = strings.Cut(line, ";")
				name, v, _ := strings.Cut(strings.TrimSpace(part), "=")
				if name == t.Name && v != "" && v != `""` {
					return true
				}
			}
		}
	case *HeaderTransport:
		values := r.Header.Values(t.requestHeader())
		if len(values) > 1 {
			return true
		}
		if len(values) == 1 {
			if scheme := t.scheme(); scheme != "" {
				prefix, _, ok := strings.Cut(values[0], " ")
				return ok && strings.EqualFold(prefix, scheme)
			}
			return strings.TrimSpace(values[0]) != ""
		}
	}
	return false
}

// validCookieValue reports whether v has only the bytes RFC 6265 allows in
// a cookie value (the same check net/http applies).
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !cookieValueBytes[v[i]] {
			return false
		}
	}
	return true
}

// cookieValueBytes marks the bytes validCookieValue accepts. It is never
// modified.
var cookieValueBytes = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != ';' && b != '\\'
	}
	return t
}()

func (c *CookieTransport) value(token string) string {
	if c.Signer != nil {
		return c.Signer.Sign(token)
	}
	return token
}

// encodedLen is the length of the cookie value for token.
func (c *CookieTransport) fits(token string) bool {
	return len(c.value(token)) <= c.maxSize()
}

// SetToken implements Transport. Used on its own, outside a Manager, it
// computes Max-Age from time.Now, and SecureAuto trusts no proxy (only
// r.TLS); the Manager passes its own clock and Manager.Proxies.
func (c *CookieTransport) SetToken(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	c.setToken(w, c.secure(r, nil), token, expires, time.Now())
}

// ClearToken implements Transport; see SetToken for SecureAuto.
func (c *CookieTransport) ClearToken(w http.ResponseWriter, r *http.Request) {
	c.clearToken(w, c.secure(r, nil))
}

// TokenHeaders implements TokenHeaderer: the token comes in Cookie and
// goes out in Set-Cookie. A Transport that embeds a *CookieTransport
// inherits it, and with it Vary: Cookie.
func (c *CookieTransport) TokenHeaders() (request, response string) {
	return "Cookie", "Set-Cookie"
}

// setToken sets the cookie; a non-zero expires makes it persistent, with
// Max-Age counted from now.
func (c *CookieTransport) setToken(w http.ResponseWriter, secure bool, token string, expires, now time.Time) {
	ck := c.cookie(secure, c.value(token))
	if !expires.IsZero() {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(expires.Sub(now).Round(time.Second).Seconds()))
	}
	setCookie(w, ck)
	if c.DetachedSigner != nil {
		sig := *ck
		sig.Name += SignatureSuffix
		sig.Value = c.DetachedSigner.Sign(ck.Name + "=" + ck.Value)
		setCookie(w, &sig)
	}
}

// setSignature sends the signature cookie of token alone, signed with the
// DetachedSigner's current key, leaving the token's own cookie (and its
// expiry) as the client has it.
func (c *CookieTransport) setSignature(w http.ResponseWriter, secure bool, token string, expires, now time.Time) {
	if c.DetachedSigner == nil {
		return
	}
	ck := c.cookie(secure, c.value(token))
	sig := *ck
	sig.Name += SignatureSuffix
	sig.Value = c.DetachedSigner.Sign(ck.Name + "=" + ck.Value)
	if !expires.IsZero() {
		sig.Expires = expires.UTC()
		sig.MaxAge = max(1, int(expires.Sub(now).Round(time.Second).Seconds()))
	}
	setCookie(w, &sig)
}

func (c *CookieTransport) clearToken(w http.ResponseWriter, secure bool) {
	ck := c.cookie(secure, "")
	ck.Expires = time.Unix(0, 0)
	ck.MaxAge = -1
	setCookie(w, ck)
	if c.DetachedSigner != nil {
		sig := *ck
		sig.Name += SignatureSuffix
		setCookie(w, &sig)
	}
}

// setCookie adds ck's Set-Cookie header to w as http.SetCookie does,
// with the same bytes (TestSetCookieLikeNetHTTP), but without
// http.Cookie.String's generality for the cookies the Manager sends: a
// name, path and value that need no sanitizing and no Domain (which would
// need validating). Any other cookie goes to http.SetCookie.
func setCookie(w http.ResponseWriter, ck *http.Cookie) {
	v, ok := cookieString(ck)
	if !ok {
		http.SetCookie(w, ck)
		return
	}
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], v)
}

// cookieString is http.Cookie.String for the cookies setCookie handles;
// ok is false for the others.
func cookieString(c *http.Cookie) (v string, ok bool) {
	if c.Domain != "" || c.Quoted || !cookieToken(c.Name) || !validCookieValue(c.Value) ||
		strings.ContainsAny(c.Value, " ,") || !cookiePath(c.Path) {
		return "", false
	}
	// As net/http, Expires is written when its year (in its own
	// location) is 1601 or later.
	expires := c.Expires.Year() >= 1601
	var buf [len(http.TimeFormat) + 1]byte // room for a five-digit year
	var date []byte
	if expires {
		date = c.Expires.UTC().AppendFormat(buf[:0], http.TimeFormat)
	}
	var b strings.Builder
	b.Grow(len(c.Name) + len(c.Value) + len(c.Path) + 110)
	b.WriteString(c.Name)
	b.WriteByte('=')
	b.WriteString(c.Value)
	if c.Path != "" {
		b.WriteString("; Path=")
		b.WriteString(c.Path)
	}
	if expires {
		b.WriteString("; Expires=")
		b.Write(date)
	}
	if c.MaxAge > 0 {
		var n [20]byte
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(n[:0], int64(c.MaxAge), 10))
	} else if c.MaxAge < 0 {
		b.WriteString("; Max-Age=0")
	}
	if c.HttpOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	switch c.SameSite {
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	case http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	}
	if c.Partitioned {
		b.WriteString("; Partitioned")
	}
	return b.String(), true
}

// cookieToken reports whether name is an HTTP token (RFC 7230), what
// net/http requires of a cookie name.
func cookieToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// cookiePath reports whether net/http writes path as it is.
func cookiePath(path string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c >= 0x7f || c == ';' {
			return false
		}
	}
	return true
}

func (c *CookieTransport) cookie(secure bool, value string) *http.Cookie {
	return &http.Cookie{
		Name:        c.Name,
		Value:       value,
		Domain:      c.Domain,
		Path:        c.Path,
		Secure:      secure,
		HttpOnly:    c.HttpOnly,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
}

// secure reports whether the cookie set in response to r gets the Secure
// attribute, with proxies trusted for X-Forwarded-Proto.
func (c *CookieTransport) secure(r *http.Request, proxies *TrustedProxies) bool {
	switch c.Secure {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return proxies.IsHTTPS(r)
}

// HeaderTransport carries the token in request and response headers, for
// API clients that do not keep cookies. By default the client sends
// "Authorization: Bearer <token>" and the server returns a new token in
// "Session-Token" (an empty Session-Token means "forget your token").
// Empty fields take their defaults, so &HeaderTransport{} is the default
// transport too.
//
// The response header comes when the Manager issues a token (a new
// session, Regenerate, a client-side session's fresh seal) or ends the
// one the request carried (never to a request that sent no token), and on
// every response that uses the session under RollingAlways; it may
// repeat the token the client holds, which then just keeps it. A token
// carries no expiry for the client: one whose session is over reads as a
// new session and gets no empty Session-Token (see the package
// documentation's "What happens when"). Browsers show a cross-origin
// script the response header only when the response lists it in
// Access-Control-Expose-Headers, which the application's CORS handling
// must add.
type HeaderTransport struct {
	// RequestHeader is read for the token (default "Authorization").
	RequestHeader string
	// Scheme must prefix the request header's value (compared
	// case-insensitively), followed by a space. Empty means "Bearer"
	// when the request header is Authorization, and no scheme for any
	// other header.
	Scheme string
	// ResponseHeader is set to a new token (default "Session-Token").
	ResponseHeader string
	// MaxSize bounds the token read and written (default
	// DefaultMaxTokenSize). A longer incoming token is ignored; writing a
	// longer one (a client-side session's sealed token) is the Manager's
	// ErrTooLarge.
	MaxSize int
}

// NewHeaderTransport returns the default HeaderTransport.
func NewHeaderTransport() *HeaderTransport {
	return &HeaderTransport{RequestHeader: "Authorization", Scheme: "Bearer", ResponseHeader: "Session-Token"}
}

// requestHeader is RequestHeader or its default.
func (h *HeaderTransport) requestHeader() string {
	if h.RequestHeader != "" {
		return h.RequestHeader
	}
	return "Authorization"
}

// scheme is Scheme or its default: "Bearer" for the Authorization header.
func (h *HeaderTransport) scheme() string {
	if h.Scheme == "" && http.CanonicalHeaderKey(h.requestHeader()) == "Authorization" {
		return "Bearer"
	}
	return h.Scheme
}

// responseHeader is ResponseHeader or its default.
func (h *HeaderTransport) responseHeader() string {
	if h.ResponseHeader != "" {
		return h.ResponseHeader
	}
	return "Session-Token"
}

// TokenHeaders implements TokenHeaderer: RequestHeader and
// ResponseHeader, or their defaults. A Transport that embeds a
// *HeaderTransport inherits it.
func (h *HeaderTransport) TokenHeaders() (request, response string) {
	return h.requestHeader(), h.responseHeader()
}

// Token implements Transport.
func (h *HeaderTransport) Token(r *http.Request) string {
	values := r.Header.Values(h.requestHeader())
	if len(values) != 1 {
		return "" // absent, or ambiguous
	}
	v := values[0]
	if scheme := h.scheme(); scheme != "" {
		prefix, rest, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(prefix, scheme) {
			return ""
		}
		v = rest
	}
	if len(v) > h.maxSize() {
		return ""
	}
	return strings.TrimSpace(v)
}

// maxSize is MaxSize or its default.
func (h *HeaderTransport) maxSize() int {
	if h.MaxSize > 0 {
		return h.MaxSize
	}
	return DefaultMaxTokenSize
}

// SetToken implements Transport.
func (h *HeaderTransport) SetToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set(h.responseHeader(), token)
}

// ClearToken implements Transport.
func (h *HeaderTransport) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(h.responseHeader(), "")
}

// TrustedProxies says which peers may speak for the client through
// X-Forwarded-Proto and X-Forwarded-For. A nil *TrustedProxies trusts no
// one, which is right when the server faces the internet directly.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// NewTrustedProxies parses CIDR prefixes or single addresses, e.g.
// "10.0.0.0/8", "127.0.0.1".
func NewTrustedProxies(cidrs ...string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, err
			}
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

func (t *TrustedProxies) trusts(a netip.Addr) bool {
	if t == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// IsHTTPS reports whether the client's connection is HTTPS: the request
// came over TLS, or from a trusted proxy whose last X-Forwarded-Proto says
// https (the last value of a comma-separated list, in the last such
// header, compared case-insensitively).
func (t *TrustedProxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !t.trusts(remoteAddr(r)) {
		return false
	}
	proto := r.Header.Values("X-Forwarded-Proto")
	if len(proto) == 0 {
		return false
	}
	last := proto[len(proto)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}

// ClientIP returns the client's address: the peer's, or, when the peer is
// a trusted proxy, the right-most X-Forwarded-For entry that is not itself
// a trusted proxy (several X-Forwarded-For headers read as one list). It
// is the peer's when there is no such entry: no X-Forwarded-For, every
// entry a trusted proxy, or an entry that is not an IP address (with a
// port, say) met first, right to left, so that nothing beyond it is
// trusted.
func (t *TrustedProxies) ClientIP(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !t.trusts(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // garbage in the chain: trust nothing beyond the peer
		}
		a = a.Unmap()
		if !t.trusts(a) {
			return a
		}
	}
	return peer
}
