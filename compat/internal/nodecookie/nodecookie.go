// Package nodecookie holds what the cookie-mode session formats of
// Node.js (koa-session's cookie mode, cookie-session) share: the cookie
// value is the base64 of the session JSON, as
// Buffer.from(JSON.stringify(session)).toString('base64') makes it, and
// its signature is a second cookie (sessionkit.CookieTransport's
// DetachedSigner with a compat/keygrip Keygrip).
package nodecookie

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit"
)

// ErrBadBody reports a cookie value that is not canonical base64 of UTF-8;
// it wraps sessionkit.ErrNotFound.
var ErrBadBody = fmt.Errorf("the cookie is not base64 of UTF-8 JSON: %w", sessionkit.ErrNotFound)

// Encode returns the cookie value holding the session JSON data.
func Encode(data []byte) string {
	return base64.StdEncoding.EncodeToString(data)
}

// Decode returns the session JSON a cookie value holds. Node.js's
// Buffer.from(s, 'base64') is lenient, but the signature covers the exact
// value and Node.js only ever writes canonical, padded standard base64, so
// nothing else can be genuine: Decode refuses it, and bytes that are not
// UTF-8, with ErrBadBody.
func Decode(value string) ([]byte, error) {
	if strings.ContainsAny(value, "\r\n") { // which the decoder would skip
		return nil, ErrBadBody
	}
	data, err := base64.StdEncoding.Strict().DecodeString(value)
	if err != nil || len(data) == 0 || !utf8.Valid(data) {
		return nil, ErrBadBody
	}
	return data, nil
}

// Importer takes over a cookie-mode session as a sessionkit.Importer: the
// value Cookie verifies (with its DetachedSigner), opened by Open and
// decoded by Decode. Anything that does not verify, open or decode is no
// session. Forget expires the cookie and its signature cookie.
type Importer struct {
	Cookie sessionkit.CookieTransport
	Open   func(token string) (sessionkit.Record, error)
	Decode func(data []byte) (sessionkit.State, error)
}

// Import implements sessionkit.Importer.
func (im *Importer) Import(_ context.Context, r *http.Request) (*sessionkit.Imported, error) {
	token := im.Cookie.Token(r)
	if token == "" {
		return nil, nil
	}
	rec, err := im.Open(token)
	if err != nil {
		return nil, nil
	}
	st, err := im.Decode(rec.Data)
	if err != nil {
		return nil, nil
	}
	st.Opaque = nil
	return &sessionkit.Imported{
		State:   st,
		UserKey: rec.UserKey,
		Forget:  func(w http.ResponseWriter, r *http.Request) { im.Cookie.ClearToken(w, r) },
	}, nil
}
