// Package keygrip signs cookies the way the Keygrip package of Node.js
// does, which is how Koa (app.keys), koa-session, koa-generic-session and
// cookie-session sign theirs through the cookies package: next to each
// signed cookie name=value the server sets a second cookie, name.sig,
// holding
//
//	base64url(HMAC-SHA1(key, "name=value")), without "=" padding
//
// with the first of a list of keys; a signature by any key of the list
// verifies, so keys rotate by putting the new key first and dropping the
// old one once the cookies it signed have expired. A Keygrip implements
// sessionkit.DetachedSigner, which a sessionkit.CookieTransport uses to
// write and check the .sig cookie.
//
// A signature proves that the server made the cookie; it does not hide
// it. A signed session cookie can be read by anyone who holds it.
package keygrip

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"

	"github.com/sessionkit/sessionkit"
)

// Keygrip signs with the first of its keys and verifies with all of them.
// It is safe for concurrent use.
type Keygrip struct {
	keys    [][]byte
	newHash func() hash.Hash
}

var _ sessionkit.DetachedSigner = (*Keygrip)(nil)

// New returns a Keygrip for keys with Keygrip's default algorithm,
// HMAC-SHA1: new Keygrip(keys), or Koa's app.keys = keys. At least one key
// is required and none may be empty. Keys are used as their UTF-8 bytes,
// as Node.js uses a string key.
func New(keys ...string) (*Keygrip, error) {
	return NewHash(sha1.New, keys...)
}

// NewHash returns a Keygrip whose HMAC uses newHash, as new Keygrip(keys,
// algorithm) does (for example sha256.New for "sha256").
func NewHash(newHash func() hash.Hash, keys ...string) (*Keygrip, error) {
	if newHash == nil {
		return nil, errors.New("keygrip: nil hash")
	}
	if len(keys) == 0 {
		return nil, errors.New("keygrip: at least one key is required")
	}
	k := &Keygrip{newHash: newHash}
	for _, key := range keys {
		if key == "" {
			return nil, errors.New("keygrip: empty key")
		}
		k.keys = append(k.keys, []byte(key))
	}
	return k, nil
}

func (k *Keygrip) sign(data string, key []byte) string {
	h := hmac.New(k.newHash, key)
	h.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Sign returns data's signature by the first key, as keygrip.sign(data).
func (k *Keygrip) Sign(data string) string {
	return k.sign(data, k.keys[0])
}

// Index returns the position of the key that made digest, the signature of
// data, or -1 when none did, as keygrip.index(data, digest). Every key is
// tried, and each comparison takes the same time whatever the digest
// holds.
func (k *Keygrip) Index(data, digest string) int {
	found := -1
	for i := len(k.keys) - 1; i >= 0; i-- {
		// ConstantTimeCompare returns at once for a different length,
		// which reveals only the length of a signature everyone knows.
		if subtle.ConstantTimeCompare([]byte(k.sign(data, k.keys[i])), []byte(digest)) == 1 {
			found = i
		}
	}
	return found
}

// Verify implements sessionkit.DetachedSigner: sig verifies when one of
// the keys made it, and is stale when that key is not the first, so that
// the cookie is signed again with the first key, as the cookies package
// does.
func (k *Keygrip) Verify(data, sig string) (ok, stale bool) {
	i := k.Index(data, sig)
	return i >= 0, i > 0
}
