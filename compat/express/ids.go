package express

import (
	"crypto/rand"
	"encoding/base64"
)

// IDs is the sessionkit.IDScheme of express-session's default generator
// (uid-safe with 24 bytes): 24 random bytes, base64url without padding,
// 32 characters.
type IDs struct{}

const idBytes = 24

var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// NewID implements sessionkit.IDScheme.
func (IDs) NewID() string {
	var b [idBytes]byte
	rand.Read(b[:]) // never returns an error; crashes on failure
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID implements sessionkit.IDScheme. It accepts exactly 32
// characters of the base64url alphabet, which is every ID uid-safe makes
// from 24 bytes. IDs from a custom express-session genid are refused (a
// browser holding one starts a new session on the Go side).
func (IDs) ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
