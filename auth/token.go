package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidToken is what a token verifier returns for a bearer token or
// API key it does not know (or that expired or was revoked).
var ErrInvalidToken = errors.New("auth: invalid token")

// MaxTokenLength bounds bearer tokens and API keys, in bytes; longer ones
// are refused as malformed before any verifier sees them.
const MaxTokenLength = 4096

// Bearer is the OAuth 2.0 bearer token strategy (RFC 6750,
// passport-http-bearer): it reads "Authorization: Bearer <token>" and asks
// Verify who the token belongs to. It is stateless: a success sets the
// user for the request only, with no session or cookie.
//
// A request without a bearer token fails with 401 and the challenge
// `Bearer realm="…"`; a token of the wrong shape (not token68 characters,
// longer than MaxTokenLength, several Authorization headers) fails with
// 400 and error="invalid_request" without reaching Verify; a token Verify
// rejects (ErrInvalidToken or ErrUserNotFound) fails with 401 and
// error="invalid_token". Other Verify errors are errors (503). The token is
// never logged or shown. To check tokens the application issued from a
// fixed set, use StaticTokens, which compares in constant time.
type Bearer[U any] struct {
	// Verify returns the user the token belongs to.
	Verify func(ctx context.Context, token string) (U, error)
	// Realm names the protected area in challenges (default "api").
	Realm string
}

// Stateless implements Stateless.
func (*Bearer[U]) Stateless() bool { return true }

// Authenticate implements Strategy.
func (b *Bearer[U]) Authenticate(r *http.Request) Result[U] {
	realm := quote(orDefault(b.Realm, "api"))
	token, ok, err := credentials(r, "Bearer")
	switch {
	case err != nil:
		res := Failure[U](http.StatusBadRequest, "The access token is malformed.")
		res.Challenge = "Bearer realm=" + realm + `, error="invalid_request"`
		res.Err = err
		return res
	case !ok:
		res := Failure[U](http.StatusUnauthorized, "An access token is required.")
		res.Challenge = "Bearer realm=" + realm
		return res
	case !isToken68(token):
		res := Failure[U](http.StatusBadRequest, "The access token is malformed.")
		res.Challenge = "Bearer realm=" + realm + `, error="invalid_request"`
		return res
	}
	user, err := b.Verify(r.Context(), token)
	switch {
	case errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUserNotFound):
		res := Failure[U](http.StatusUnauthorized, "The access token is invalid.")
		res.Challenge = "Bearer realm=" + realm + `, error="invalid_token"`
		return res
	case err != nil:
		return Error[U](fmt.Errorf("auth: verify bearer token: %w", err))
	}
	res := Success(user)
	res.Method = "bearer"
	return res
}

// APIKey is the API key strategy: it reads the key from a request header
// (default "X-API-Key") and asks Verify whose it is. It is stateless. A
// request without the header fails with 401; a key of the wrong shape
// (control or non-ASCII characters, longer than MaxTokenLength, the header
// repeated) fails with 400 without reaching Verify; a key Verify rejects
// (ErrInvalidToken or ErrUserNotFound) fails with 401. Other Verify errors
// are errors (503). Keys are read from a header only, never from the URL,
// where they would end up in logs.
type APIKey[U any] struct {
	// Header names the header carrying the key (default "X-API-Key").
	Header string
	// Verify returns the user the key belongs to.
	Verify func(ctx context.Context, key string) (U, error)
}

// Stateless implements Stateless.
func (*APIKey[U]) Stateless() bool { return true }

// Authenticate implements Strategy.
func (k *APIKey[U]) Authenticate(r *http.Request) Result[U] {
	vals := r.Header.Values(orDefault(k.Header, "X-API-Key"))
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return Failure[U](http.StatusUnauthorized, "An API key is required.")
	}
	key := strings.TrimSpace(vals[0])
	if len(vals) > 1 || len(key) > MaxTokenLength || !printableASCII(key) {
		return Failure[U](http.StatusBadRequest, "The API key is malformed.")
	}
	user, err := k.Verify(r.Context(), key)
	switch {
	case errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUserNotFound):
		return Failure[U](http.StatusUnauthorized, "The API key is invalid.")
	case err != nil:
		return Error[U](fmt.Errorf("auth: verify API key: %w", err))
	}
	res := Success(user)
	res.Method = "apikey"
	return res
}

// Basic is the HTTP Basic authentication strategy (RFC 7617,
// passport-http's BasicStrategy): it reads "Authorization: Basic …" and
// checks the user name and password with Verify — PasswordVerifier works.
// It is stateless. A request without credentials fails with 401 and the
// challenge `Basic realm="…", charset="UTF-8"`; malformed credentials fail
// with 400 without reaching Verify; wrong ones (ErrInvalidCredentials or
// ErrUserNotFound) with 401 and the challenge. Other Verify errors are
// errors (503). Use it over HTTPS only.
type Basic[U any] struct {
	// Verify returns the user the credentials belong to.
	Verify func(ctx context.Context, username, password string) (U, error)
	// Realm names the protected area in challenges (default "api").
	Realm string
}

// Stateless implements Stateless.
func (*Basic[U]) Stateless() bool { return true }

// Authenticate implements Strategy.
func (b *Basic[U]) Authenticate(r *http.Request) Result[U] {
	challenge := "Basic realm=" + quote(orDefault(b.Realm, "api")) + `, charset="UTF-8"`
	cred, ok, err := credentials(r, "Basic")
	if !ok && err == nil {
		res := Failure[U](http.StatusUnauthorized, "Credentials are required.")
		res.Challenge = challenge
		return res
	}
	var name, pw string
	if err == nil {
		var raw []byte
		raw, err = base64.StdEncoding.DecodeString(cred)
		if err == nil {
			var found bool
			name, pw, found = strings.Cut(string(raw), ":")
			if !found || !utf8.Valid(raw) || hasControl(name) || name == "" {
				err = errors.New("malformed user-pass")
			}
		}
	}
	if err != nil || len(cred) > MaxTokenLength {
		return Failure[U](http.StatusBadRequest, "The credentials are malformed.")
	}
	user, err := b.Verify(r.Context(), name, pw)
	switch {
	case errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrUserNotFound):
		res := Failure[U](http.StatusUnauthorized, MsgInvalidCredentials)
		res.Challenge = challenge
		return res
	case err != nil:
		return Error[U](fmt.Errorf("auth: verify basic credentials: %w", err))
	}
	res := Success(user)
	res.Method = "basic"
	return res
}

// StaticTokens returns a verifier for Bearer or APIKey over a fixed set of
// tokens (or keys), each mapped to its user. It keeps only SHA-256 digests
// of the tokens and compares a presented token's digest with every one in
// constant time, so neither the comparison nor the lookup tells how much
// of a guess was right. Tokens should be long random strings (32 bytes or
// more from crypto/rand). Unknown tokens yield ErrInvalidToken.
func StaticTokens[U any](tokens map[string]U) func(ctx context.Context, token string) (U, error) {
	type entry struct {
		sum  [sha256.Size]byte
		user U
	}
	entries := make([]entry, 0, len(tokens))
	for tok, u := range tokens {
		entries = append(entries, entry{sha256.Sum256([]byte(tok)), u})
	}
	return func(_ context.Context, token string) (U, error) {
		sum := sha256.Sum256([]byte(token))
		var (
			found int
			user  U
		)
		for i := range entries {
			if subtle.ConstantTimeCompare(sum[:], entries[i].sum[:]) == 1 {
				found = 1
				user = entries[i].user
			}
		}
		if found == 0 {
			var zero U
			return zero, ErrInvalidToken
		}
		return user, nil
	}
}

// credentials returns the credentials of the request's Authorization
// header for scheme (case-insensitive). ok is false when there is no such
// header; err reports a malformed one (repeated, or not "scheme SP
// credentials").
func credentials(r *http.Request, scheme string) (string, bool, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", false, nil
	}
	s, c, found := strings.Cut(vals[0], " ")
	if !strings.EqualFold(s, scheme) {
		if len(vals) > 1 {
			return "", false, errors.New("several Authorization headers")
		}
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", false, errors.New("several Authorization headers")
	}
	c = strings.TrimLeft(c, " ")
	if !found || c == "" || len(c) > MaxTokenLength || strings.ContainsAny(c, " \t") {
		return "", false, errors.New("malformed Authorization header")
	}
	return c, true, nil
}

// isToken68 reports whether s has RFC 7235's token68 shape:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

func quote(s string) string { return strconv.Quote(s) }
