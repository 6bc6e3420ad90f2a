package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrInvalidHash is returned for an encoded hash that is not an argon2id
// PHC string this package can verify (wrong algorithm, malformed fields, or
// parameters outside the limits below).
var ErrInvalidHash = errors.New("password: invalid argon2id hash")

// Default parameters: the first of OWASP's argon2id recommendations
// (19 MiB, two passes, one lane), a 16-byte salt and a 32-byte key.
const (
	DefaultMemory  = 19 * 1024 // KiB
	DefaultTime    = 2
	DefaultThreads = 1
	DefaultSaltLen = 16
	DefaultKeyLen  = 32
)

// Limits on parameters read from an encoded hash, so that a corrupted or
// hostile hash cannot make Verify allocate gigabytes or run for minutes.
const (
	MaxMemory  = 1 << 20 // KiB (1 GiB)
	MaxTime    = 64
	MaxThreads = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// Params are argon2id cost parameters. Zero fields take the defaults, so
// the zero Params is DefaultParams.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams returns the parameters Hash and Verify use.
func DefaultParams() Params {
	return Params{Memory: DefaultMemory, Time: DefaultTime, Threads: DefaultThreads, SaltLen: DefaultSaltLen, KeyLen: DefaultKeyLen}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

func (p Params) check() error {
	switch {
	case p.Memory > MaxMemory || p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("%w: memory %d KiB out of range", ErrInvalidHash, p.Memory)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: time %d out of range", ErrInvalidHash, p.Time)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: parallelism %d out of range", ErrInvalidHash, p.Threads)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt of %d bytes", ErrInvalidHash, p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key of %d bytes", ErrInvalidHash, p.KeyLen)
	}
	return nil
}

// Hash returns the argon2id hash of password under p with a fresh random
// salt, as a PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// where salt and key are unpadded standard base64.
func (p Params) Hash(password string) (string, error) {
	p = p.withDefaults()
	if err := p.check(); err != nil {
		return "", fmt.Errorf("password: bad parameters: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, comparing in constant
// time. needsRehash is true on a match whose hash was made with other
// parameters than p: store a new p.Hash(password) then, so that hashes
// follow parameter upgrades as users sign in. A malformed encoded is an
// error wrapping ErrInvalidHash, never a match.
func (p Params) Verify(password, encoded string) (ok, needsRehash bool, err error) {
	h, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return false, false, nil
	}
	return true, h.params != p.withDefaults(), nil
}

// VerifyDummy spends the time a Verify of a p-hash takes and always fails.
// Call it when the user is unknown, so that response timing does not tell
// unknown users from wrong passwords.
func (p Params) VerifyDummy(password string) {
	p = p.withDefaults()
	if p.check() != nil {
		p = DefaultParams()
	}
	salt := make([]byte, p.SaltLen)
	_ = argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// NeedsRehash reports whether encoded was made with other parameters than
// p (or is not a valid hash at all).
func (p Params) NeedsRehash(encoded string) bool {
	h, err := decode(encoded)
	return err != nil || h.params != p.withDefaults()
}

// Hash hashes password with DefaultParams.
func Hash(password string) (string, error) {
	return DefaultParams().Hash(password)
}

// Verify checks password against encoded; needsRehash compares with
// DefaultParams. See Params.Verify.
func Verify(password, encoded string) (ok, needsRehash bool, err error) {
	return DefaultParams().Verify(password, encoded)
}

type hash struct {
	params Params
	salt   []byte
	key    []byte
}

// decode parses "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func decode(encoded string) (hash, error) {
	var h hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, ErrInvalidHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("%w: unsupported version %q", ErrInvalidHash, parts[2])
	}
	var m, t, par uint64
	var seen [3]bool
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return h, fmt.Errorf("%w: parameters %q", ErrInvalidHash, parts[3])
	}
	for _, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		if !ok || val == "" || (len(val) > 1 && val[0] == '0') {
			return h, fmt.Errorf("%w: parameter %q", ErrInvalidHash, f)
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return h, fmt.Errorf("%w: parameter %q", ErrInvalidHash, f)
		}
		var i int
		switch name {
		case "m":
			m, i = n, 0
		case "t":
			t, i = n, 1
		case "p":
			par, i = n, 2
		default:
			return h, fmt.Errorf("%w: parameter %q", ErrInvalidHash, f)
		}
		if seen[i] {
			return h, fmt.Errorf("%w: repeated parameter %q", ErrInvalidHash, name)
		}
		seen[i] = true
	}
	if par > MaxThreads {
		return h, fmt.Errorf("%w: parallelism %d out of range", ErrInvalidHash, par)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return h, fmt.Errorf("%w: salt: %v", ErrInvalidHash, err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return h, fmt.Errorf("%w: key: %v", ErrInvalidHash, err)
	}
	h.params = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(par), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := h.params.check(); err != nil {
		return h, err
	}
	h.salt, h.key = salt, key
	return h, nil
}
