package sessionkit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// IDScheme creates session IDs and recognizes well-formed ones. The Manager
// never adopts an ID a client made up: a token that is not well-formed is
// ignored without a store call, and a well-formed one that the store does
// not know starts a new session with a new ID.
type IDScheme interface {
	// NewID returns a fresh, unpredictable ID.
	NewID() string
	// ValidID reports whether id has the scheme's exact format.
	ValidID(id string) bool
}

// RandomIDs is the default IDScheme: 32 bytes (256 bits) from crypto/rand,
// base64url without padding (43 characters).
type RandomIDs struct{}

const randomIDBytes = 32

var randomIDLen = base64.RawURLEncoding.EncodedLen(randomIDBytes)

// NewID implements IDScheme.
func (RandomIDs) NewID() string {
	var b [randomIDBytes]byte
	rand.Read(b[:]) // never returns an error; crashes on failure
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID implements IDScheme. It accepts exactly the canonical encoding of
// 32 bytes.
func (RandomIDs) ValidID(id string) bool {
	if len(id) != randomIDLen {
		return false
	}
	// The 43-character strings base64.RawURLEncoding.Strict() decodes
	// into 32 bytes, without decoding: characters of the alphabet only,
	// the last of which carries 2 padding bits that must be zero
	// (43 × 6 = 258 bits).
	for i := 0; i < len(id)-1; i++ {
		if base64URLValues[id[i]] < 0 {
			return false
		}
	}
	v := base64URLValues[id[len(id)-1]]
	return v >= 0 && v&3 == 0
}

// base64URLValues maps each byte to its value in the base64url alphabet,
// or -1. It is never modified.
var base64URLValues = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base64URLAlphabet) {
		t[base64URLAlphabet[i]] = int8(i)
	}
	return t
}()

// hashedKey derives the store key from an ID: base64url(SHA-256(id)), so a
// copy of the store does not hand out live session tokens.
func hashedKey(id string) string {
	var buf [128]byte // keeps the conversion off the heap for usual IDs
	sum := sha256.Sum256(append(buf[:0], id...))
	out := encodeSum(&sum)
	return string(out[:])
}

// base64URLAlphabet is the base64url alphabet (RFC 4648 §5).
const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// encodeSum is base64.RawURLEncoding.Encode for a SHA-256 sum, six bytes
// (eight characters) per step: five steps and a two-byte tail, in about
// half the instructions of the general encoder.
func encodeSum(sum *[32]byte) (out [43]byte) {
	for g := range 5 {
		v := binary.BigEndian.Uint64(sum[g*6:]) // the group's six bytes, and two more ignored
		dst := out[g*8 : g*8+8 : g*8+8]
		dst[0] = base64URLAlphabet[v>>58]
		dst[1] = base64URLAlphabet[v>>52&63]
		dst[2] = base64URLAlphabet[v>>46&63]
		dst[3] = base64URLAlphabet[v>>40&63]
		dst[4] = base64URLAlphabet[v>>34&63]
		dst[5] = base64URLAlphabet[v>>28&63]
		dst[6] = base64URLAlphabet[v>>22&63]
		dst[7] = base64URLAlphabet[v>>16&63]
	}
	v := uint(sum[30])<<8 | uint(sum[31]) // 16 bits: three characters, the last padded with two zero bits
	out[40] = base64URLAlphabet[v>>10]
	out[41] = base64URLAlphabet[v>>4&63]
	out[42] = base64URLAlphabet[v<<2&63]
	return out
}

// Signer signs the token a transport sends and verifies what comes back.
// Implementations must be safe for concurrent use and must compare in
// constant time.
type Signer interface {
	// Sign returns the signed form of token.
	Sign(token string) string
	// Verify returns the token inside signed and whether its signature
	// matched any of the signer's keys.
	Verify(signed string) (token string, ok bool)
}

// RotatingSigner is implemented by a Signer that accepts values signed
// with retired keys (signing with its current one) and can tell them
// apart. As a CookieTransport's Signer, a cookie whose signature is by a
// retired key is accepted and sent again, signed with the current key, on
// a response that uses its session, as HMACSigner's are (see there for
// when a retired key can be dropped).
type RotatingSigner interface {
	Signer
	// VerifyRotation is Verify that also reports whether the signature
	// that matched is by a retired key. It must report retired false
	// whenever ok is false.
	VerifyRotation(signed string) (token string, ok, retired bool)
}

// HMACSigner signs tokens as token + "." + base64url(HMAC-SHA256(key,
// token)). It signs with the first key and accepts any of them, so keys can
// be rotated: put the new key first, and drop the old one once every client
// has been re-issued a cookie. As a CookieTransport's Signer, a cookie
// signed with a later key is accepted and sent again, signed with the first,
// on the response (when the request uses its session), so the old key can go
// once every session that was live when the new key came in has been used
// since or has ended: an unused session ends its idle timeout after its last
// use (the Manager's IdleTimeout, or its own), or at its deadline when it has
// no idle timeout.
type HMACSigner struct {
	keys [][]byte
}

// ErrWeakKey is returned for signing or sealing keys that are too short.
var ErrWeakKey = errors.New("sessionkit: key too short")

// MinKeyLen is the shortest key NewHMACSigner accepts.
const MinKeyLen = 32

// NewHMACSigner returns a signer for keys, the first of which signs. Every
// key must be at least MinKeyLen bytes.
func NewHMACSigner(keys ...[]byte) (*HMACSigner, error) {
	if len(keys) == 0 {
		return nil, errors.New("sessionkit: NewHMACSigner needs at least one key")
	}
	s := &HMACSigner{}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("%w: key %d has %d bytes, want at least %d", ErrWeakKey, i, len(k), MinKeyLen)
		}
		s.keys = append(s.keys, append([]byte(nil), k...))
	}
	return s, nil
}

func (s *HMACSigner) mac(key []byte, token string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	return h.Sum(nil)
}

// Sign implements Signer.
func (s *HMACSigner) Sign(token string) string {
	return token + "." + base64.RawURLEncoding.EncodeToString(s.mac(s.keys[0], token))
}

// Verify implements Signer.
func (s *HMACSigner) Verify(signed string) (string, bool) {
	token, ok, _ := s.VerifyRotation(signed)
	return token, ok
}

// VerifyRotation implements RotatingSigner: a signature by a key other
// than the first is retired.
func (s *HMACSigner) VerifyRotation(signed string) (token string, ok, retired bool) {
	i := strings.LastIndexByte(signed, '.')
	if i < 0 {
		return "", false, false
	}
	token, sig := signed[:i], signed[i+1:]
	// The exact length rules out the line breaks the decoder would skip,
	// so a signature has one spelling only.
	if len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return "", false, false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return "", false, false
	}
	current, old := 0, 0
	for i, k := range s.keys {
		if i == 0 {
			current = subtle.ConstantTimeCompare(got, s.mac(k, token))
		} else {
			old |= subtle.ConstantTimeCompare(got, s.mac(k, token))
		}
	}
	return token, current|old == 1, current == 0 && old == 1
}
