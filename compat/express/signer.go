package express

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// Signer signs session cookies the way express-session does with the
// cookie-signature package: the cookie value is "s:" + id + "." + sig,
// where sig is the standard (+/) base64 of HMAC-SHA256(secret, id) without
// "=" padding, and the whole value is then encoded as JavaScript's
// encodeURIComponent encodes it. It implements sessionkit.Signer.
//
// New cookies are signed with the first secret; a cookie signed with any
// of them is accepted, so secrets rotate as in express-session: put the new
// secret first and drop the old one once the cookies it signed have
// expired. As a sessionkit.RotatingSigner, it also has a cookie signed
// with a later secret sent again, signed with the first, on a response
// that uses its session.
type Signer struct {
	secrets [][]byte
}

// NewSigner returns a Signer for secrets, the first of which signs. At
// least one secret is required and none may be empty. Secrets are used as
// their UTF-8 bytes, as Node.js uses a string secret.
//
// express-session accepts secrets of any length; for a new deployment use
// at least 32 random bytes.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("express: at least one secret is required")
	}
	s := &Signer{}
	for _, sec := range secrets {
		if sec == "" {
			return nil, errors.New("express: empty secret")
		}
		s.secrets = append(s.secrets, []byte(sec))
	}
	return s, nil
}

// sign returns id + "." + sig for one secret, as cookie-signature's sign.
func sign(id string, secret []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	return id + "." + base64.RawStdEncoding.EncodeToString(h.Sum(nil))
}

// Sign implements sessionkit.Signer: it returns the cookie value for id.
func (s *Signer) Sign(id string) string {
	return EncodeURIComponent("s:" + sign(id, s.secrets[0]))
}

// Verify implements sessionkit.Signer: it takes a cookie value as the
// browser sent it (quotes already stripped) and returns the session ID if
// the value is signed with one of the secrets. As the cookie package
// express-session uses does, the value is percent-decoded only when it
// contains '%' (and used as it is when that decoding fails); '+' is never
// read as a space. A value without the "s:" prefix is not a session.
func (s *Signer) Verify(value string) (string, bool) {
	id, ok, _ := s.VerifyRotation(value)
	return id, ok
}

// VerifyRotation implements sessionkit.RotatingSigner: it is Verify, and
// also reports whether the signature is by a secret other than the first.
// Such a cookie is sent again signed with the first secret (which
// express-session does not do), so an old secret can be dropped sooner;
// both sides must then list the same secret first.
func (s *Signer) VerifyRotation(value string) (id string, ok, retired bool) {
	if strings.IndexByte(value, '%') >= 0 {
		if dec, ok := DecodeURIComponent(value); ok {
			value = dec
		}
	}
	signed, found := strings.CutPrefix(value, "s:")
	if !found {
		return "", false, false
	}
	i := strings.LastIndexByte(signed, '.')
	if i < 0 {
		return "", false, false
	}
	id = signed[:i]
	current, old := 0, 0
	for n, sec := range s.secrets {
		want := sign(id, sec)
		// ConstantTimeCompare returns 0 at once for different lengths,
		// which only reveals the length of a signature everyone knows.
		if n == 0 {
			current = subtle.ConstantTimeCompare([]byte(want), []byte(signed))
		} else {
			old |= subtle.ConstantTimeCompare([]byte(want), []byte(signed))
		}
	}
	if current|old != 1 {
		return "", false, false
	}
	return id, true, current == 0
}

// EncodeURIComponent encodes s as JavaScript's encodeURIComponent does:
// every byte of its UTF-8 form except A-Z a-z 0-9 - _ . ! ~ * ' ( ) becomes
// %XX with upper-case hex digits.
func EncodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !uriUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func uriUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

// DecodeURIComponent decodes s as JavaScript's decodeURIComponent does:
// each %XX (either case) becomes its byte; '+' stays '+'. It reports false
// where JavaScript would throw: a '%' not followed by two hex digits, or
// decoded bytes that are not valid UTF-8.
func DecodeURIComponent(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
