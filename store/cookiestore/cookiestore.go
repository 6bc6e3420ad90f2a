package cookiestore

import (
	"bytes"
	"compress/flate"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/sessionkit/sessionkit"
)

// MinSecretLen is the shortest secret New accepts, in bytes.
const MinSecretLen = 32

// Defaults for the Options limits.
const (
	// DefaultMaxTokenSize bounds a token, matching what browsers keep
	// per cookie.
	DefaultMaxTokenSize = sessionkit.DefaultMaxTokenSize
	// DefaultMaxDataSize bounds the uncompressed payload (user key and
	// session data) of a token.
	DefaultMaxDataSize = 64 << 10
)

// Errors Open reports. Both wrap sessionkit.ErrNotFound, so the Manager
// treats such a token as no session.
var (
	// ErrInvalidToken: the token is malformed, truncated, tampered with,
	// sealed for another cookie name, or sealed with a key that is not
	// listed.
	ErrInvalidToken = fmt.Errorf("cookiestore: invalid token: %w", sessionkit.ErrNotFound)
	// ErrExpired: the token is authentic but its sealed expiry has
	// passed.
	ErrExpired = fmt.Errorf("cookiestore: token expired: %w", sessionkit.ErrNotFound)
)

// ErrShortSecret is returned (wrapped) by New for a secret shorter than
// MinSecretLen.
var ErrShortSecret = errors.New("cookiestore: secret too short")

const (
	formatVersion = 1
	keyIDLen      = 4
	nonceLen      = chacha20poly1305.NonceSizeX
	headerLen     = 1 + keyIDLen + nonceLen
	tagLen        = chacha20poly1305.Overhead
	expiryLen     = 8
	flagsLen      = 1

	flagCompressed = 1 << 0

	// compressMin is the body size below which compression is not tried:
	// deflate's fixed cost (building Huffman tables) buys a few bytes at
	// most on small sessions.
	compressMin = 256
)

var encoding = base64.RawURLEncoding.Strict()

// Options configures a Store. Only CookieName and Secrets are required.
type Options struct {
	// CookieName is the name of the cookie the tokens travel in. It is
	// bound into every token, so a token sealed for one cookie does not
	// open as another. It must equal the Manager's Cookie.Name.
	CookieName string
	// Secrets are the key secrets, newest first, each at least
	// MinSecretLen bytes of high-entropy data. Tokens are sealed with the
	// first; tokens sealed with any of them open. To rotate, put a new
	// secret first and keep the old ones until every token sealed with
	// them has expired (the Manager's Lifetime).
	Secrets [][]byte
	// DisableCompression turns off deflate compression of payloads.
	// By default a payload is compressed when that makes it smaller.
	DisableCompression bool
	// MaxDataSize bounds the uncompressed payload (user key and session
	// data) in bytes, both when sealing (ErrTooLarge) and when
	// decompressing an incoming token (default DefaultMaxDataSize).
	MaxDataSize int
	// MaxTokenSize bounds a token in bytes, both when sealing
	// (ErrTooLarge) and when opening (default DefaultMaxTokenSize).
	MaxTokenSize int
	// Now is the clock the sealed expiry is checked against (default
	// time.Now). Give it the Manager's clock when tests inject one.
	Now func() time.Time
}

// Store seals whole sessions into tokens with XChaCha20-Poly1305. It
// implements sessionkit.ClientStore; use it with sessionkit.NewClientSide.
// A Store is safe for concurrent use.
type Store struct {
	name     string
	keys     []key // keys[0] seals
	compress bool
	maxData  int
	maxToken int
	now      func() time.Time
	writers  sync.Pool // *flate.Writer
	readers  sync.Pool // io.ReadCloser that is a flate.Resetter
	buffers  sync.Pool // *bytes.Buffer for compressed output
}

type key struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
	ad   []byte // version, key ID, cookie name
}

// New returns a Store for tokens carried in the cookie cookieName, sealed
// with the first of secrets and opened with any of them (newest first).
// It fails when no secret is given or one is shorter than MinSecretLen.
func New(cookieName string, secrets ...[]byte) (*Store, error) {
	return NewWithOptions(Options{CookieName: cookieName, Secrets: secrets})
}

// NewWithOptions returns a Store configured by opts.
func NewWithOptions(opts Options) (*Store, error) {
	if opts.CookieName == "" {
		return nil, errors.New("cookiestore: a cookie name is required")
	}
	if len(opts.Secrets) == 0 {
		return nil, fmt.Errorf("cookiestore: at least one secret of %d or more bytes is required", MinSecretLen)
	}
	s := &Store{
		name:     opts.CookieName,
		compress: !opts.DisableCompression,
		maxData:  opts.MaxDataSize,
		maxToken: opts.MaxTokenSize,
		now:      opts.Now,
	}
	if s.maxData <= 0 {
		s.maxData = DefaultMaxDataSize
	}
	if s.maxToken <= 0 {
		s.maxToken = DefaultMaxTokenSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, secret := range opts.Secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("%w: secret %d is %d bytes, need at least %d (for example 32 bytes from crypto/rand)",
				ErrShortSecret, i, len(secret), MinSecretLen)
		}
		k, err := deriveKey(secret, opts.CookieName)
		if err != nil {
			return nil, err
		}
		for j, other := range s.keys {
			if other.id == k.id {
				return nil, fmt.Errorf("cookiestore: secrets %d and %d are the same (or share a key ID)", j, i)
			}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// deriveKey turns a secret into an XChaCha20-Poly1305 key and a key ID
// with HKDF-SHA256. The ID names the key in tokens without revealing it.
func deriveKey(secret []byte, cookieName string) (key, error) {
	var material [chacha20poly1305.KeySize + keyIDLen]byte
	r := hkdf.New(sha256.New, secret, []byte("sessionkit/cookiestore"), []byte("sessionkit cookiestore v1: key and key id"))
	if _, err := io.ReadFull(r, material[:]); err != nil {
		return key{}, fmt.Errorf("cookiestore: derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(material[:chacha20poly1305.KeySize])
	if err != nil {
		return key{}, fmt.Errorf("cookiestore: derive key: %w", err)
	}
	var k key
	copy(k.id[:], material[chacha20poly1305.KeySize:])
	k.aead = aead
	k.ad = make([]byte, 0, 1+keyIDLen+len(cookieName))
	k.ad = append(k.ad, formatVersion)
	k.ad = append(k.ad, k.id[:]...)
	k.ad = append(k.ad, cookieName...)
	return k, nil
}

// CookieName returns the cookie name tokens are bound to.
func (s *Store) CookieName() string { return s.name }

// Seal implements sessionkit.ClientStore: it returns a token holding rec's
// Data, Expiry and UserKey, sealed with the newest key. A payload over
// MaxDataSize or a token over MaxTokenSize is an error wrapping
// sessionkit.ErrTooLarge.
func (s *Store) Seal(rec sessionkit.Record) (string, error) {
	if rec.Expiry.IsZero() {
		return "", errors.New("cookiestore: seal: the record has no expiry")
	}
	bodyLen := uvarintLen(len(rec.UserKey)) + len(rec.UserKey) + len(rec.Data)
	if bodyLen > s.maxData {
		return "", fmt.Errorf("cookiestore: seal: payload of %d bytes exceeds MaxDataSize %d: %w", bodyLen, s.maxData, sessionkit.ErrTooLarge)
	}

	// buf holds header, flags, expiry and body, and receives the
	// ciphertext in place.
	buf := make([]byte, headerLen+flagsLen+expiryLen, headerLen+flagsLen+expiryLen+bodyLen+tagLen)
	k := &s.keys[0]
	buf[0] = formatVersion
	copy(buf[1:], k.id[:])
	nonce := buf[1+keyIDLen : headerLen]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("cookiestore: seal: nonce: %w", err)
	}
	binary.BigEndian.PutUint64(buf[headerLen+flagsLen:], uint64(rec.Expiry.UnixMilli()))
	buf = binary.AppendUvarint(buf, uint64(len(rec.UserKey)))
	buf = append(buf, rec.UserKey...)
	buf = append(buf, rec.Data...)

	if body := buf[headerLen+flagsLen+expiryLen:]; s.compress && len(body) >= compressMin {
		z := s.getBuffer()
		if s.deflate(z, body) {
			buf = append(buf[:headerLen+flagsLen+expiryLen], z.Bytes()...)
			buf[headerLen] |= flagCompressed
		}
		s.buffers.Put(z)
	}

	pt := buf[headerLen:]
	ct := k.aead.Seal(pt[:0], nonce, pt, k.ad)
	raw := buf[:headerLen+len(ct)]
	if n := encoding.EncodedLen(len(raw)); n > s.maxToken {
		return "", fmt.Errorf("cookiestore: seal: token of %d bytes exceeds MaxTokenSize %d: %w", n, s.maxToken, sessionkit.ErrTooLarge)
	}
	return encoding.EncodeToString(raw), nil
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

func (s *Store) getBuffer() *bytes.Buffer {
	b, _ := s.buffers.Get().(*bytes.Buffer)
	if b == nil {
		return new(bytes.Buffer)
	}
	b.Reset()
	return b
}

// deflate compresses body into b, reporting whether that made it smaller.
func (s *Store) deflate(b *bytes.Buffer, body []byte) bool {
	w, _ := s.writers.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(b, flate.BestSpeed); err != nil {
			return false
		}
	} else {
		w.Reset(b)
	}
	defer s.writers.Put(w)
	if _, err := w.Write(body); err != nil {
		return false
	}
	if err := w.Close(); err != nil {
		return false
	}
	return b.Len() < len(body)
}

// Open implements sessionkit.ClientStore: it returns the record sealed in
// token. A token that is not one this Store sealed with a listed key for
// its cookie name yields ErrInvalidToken; one whose sealed expiry has
// passed yields ErrExpired. Both wrap sessionkit.ErrNotFound. The returned
// record's Version is zero.
func (s *Store) Open(token string) (sessionkit.Record, error) {
	if len(token) > s.maxToken || len(token) < encoding.EncodedLen(headerLen+flagsLen+expiryLen+1+tagLen) {
		return sessionkit.Record{}, ErrInvalidToken
	}
	raw, err := encoding.DecodeString(token)
	// The length check refuses line breaks, which the decoder skips: a
	// token has one spelling only.
	if err != nil || encoding.EncodedLen(len(raw)) != len(token) || raw[0] != formatVersion {
		return sessionkit.Record{}, ErrInvalidToken
	}
	k := s.key(raw[1 : 1+keyIDLen])
	if k == nil {
		return sessionkit.Record{}, ErrInvalidToken
	}
	pt, err := k.aead.Open(raw[headerLen:headerLen], raw[1+keyIDLen:headerLen], raw[headerLen:], k.ad)
	if err != nil || len(pt) < flagsLen+expiryLen+1 {
		return sessionkit.Record{}, ErrInvalidToken
	}
	flags := pt[0]
	if flags&^flagCompressed != 0 {
		return sessionkit.Record{}, ErrInvalidToken
	}
	expiry := time.UnixMilli(int64(binary.BigEndian.Uint64(pt[flagsLen:])))
	if !s.now().Before(expiry) {
		return sessionkit.Record{}, ErrExpired
	}
	body := pt[flagsLen+expiryLen:]
	if flags&flagCompressed != 0 {
		if body, err = s.inflate(body); err != nil {
			return sessionkit.Record{}, err
		}
	}
	n, w := binary.Uvarint(body)
	if w <= 0 || n > uint64(len(body)-w) {
		return sessionkit.Record{}, ErrInvalidToken
	}
	userKey := string(body[w : w+int(n)])
	data := body[w+int(n):]
	return sessionkit.Record{Data: data, Expiry: expiry, UserKey: userKey}, nil
}

func (s *Store) key(id []byte) *key {
	for i := range s.keys {
		if bytes.Equal(s.keys[i].id[:], id) {
			return &s.keys[i]
		}
	}
	return nil
}

// inflate decompresses z, refusing output beyond MaxDataSize so that a
// small token cannot expand into a large allocation.
func (s *Store) inflate(z []byte) ([]byte, error) {
	src := bytes.NewReader(z)
	r, _ := s.readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, ErrInvalidToken
	}
	defer s.readers.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, int64(s.maxData)+1))
	if err != nil || len(out) > s.maxData {
		return nil, ErrInvalidToken
	}
	return out, nil
}

// NeedsReseal reports whether token, which Open accepted, was sealed with
// a key other than the newest. It implements sessionkit.ClientResealer, so
// the Manager replaces such a token on the next response even when the
// session did not change.
func (s *Store) NeedsReseal(token string) bool {
	if len(token) < 8 {
		return false
	}
	var head [6]byte
	if _, err := encoding.Decode(head[:], []byte(token[:8])); err != nil {
		return false
	}
	return head[0] == formatVersion && !bytes.Equal(head[1:1+keyIDLen], s.keys[0].id[:])
}

var (
	_ sessionkit.ClientStore    = (*Store)(nil)
	_ sessionkit.ClientResealer = (*Store)(nil)
)
