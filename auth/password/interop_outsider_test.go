package password_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/sessionkit/sessionkit/auth/password"
)

// A hash another library wrote — its own parameters, salt and key lengths,
// in the PHC string format — verifies, and asks for a rehash under
// different parameters.
func TestVerifiesOtherLibrariesHashes(t *testing.T) {
	b64 := base64.RawStdEncoding
	for _, tt := range []struct {
		m, tm           uint32
		p               uint8
		saltLen, keyLen int
	}{
		{256, 3, 4, 8, 24},  // argon2 CLI style: short salt, 24-byte key
		{128, 2, 2, 16, 32}, // argon2-cffi / node-argon2 style lengths
		{64, 1, 1, 32, 64},
	} {
		salt := make([]byte, tt.saltLen)
		for i := range salt {
			salt[i] = byte(i + 1)
		}
		key := argon2.IDKey([]byte("hunter2"), salt, tt.tm, tt.m, tt.p, uint32(tt.keyLen))
		enc := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", tt.m, tt.tm, tt.p, b64.EncodeToString(salt), b64.EncodeToString(key))
		ok, rehash, err := cheap.Verify("hunter2", enc)
		if err != nil || !ok || !rehash {
			t.Errorf("%s: Verify = %v, %v, %v; want true, true, nil", enc, ok, rehash, err)
		}
		if ok, _, err := cheap.Verify("hunter3", enc); err != nil || ok {
			t.Errorf("%s: wrong password: %v, %v", enc, ok, err)
		}
		same := password.Params{Memory: tt.m, Time: tt.tm, Threads: tt.p, SaltLen: uint32(tt.saltLen), KeyLen: uint32(tt.keyLen)}
		if ok, rehash, err := same.Verify("hunter2", enc); err != nil || !ok || rehash {
			t.Errorf("%s: under its own parameters: %v, %v, %v; want true, false, nil", enc, ok, rehash, err)
		}
	}
}
