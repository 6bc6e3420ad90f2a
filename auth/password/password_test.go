package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/auth/password"
)

// cheap keeps tests fast; production uses DefaultParams.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := cheap.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the given parameters", h)
	}
	ok, rehash, err := cheap.Verify("correct horse", h)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = cheap.Verify("correct horsE", h)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	h2, _ := cheap.Hash("correct horse")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestEmptyAndLongPasswords(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("x", 10000), "pässwörd\x00nul"} {
		h, err := cheap.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := cheap.Verify(pw, h); !ok || err != nil {
			t.Errorf("password of %d bytes does not verify: %v", len(pw), err)
		}
		if ok, _, _ := cheap.Verify(pw+"!", h); ok {
			t.Errorf("password of %d bytes + suffix verifies", len(pw))
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	old, err := cheap.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	stronger := password.Params{Memory: 128, Time: 2, Threads: 1}
	tests := []struct {
		name string
		p    password.Params
		want bool
	}{
		{"same", cheap, false},
		{"more memory", password.Params{Memory: 128, Time: 1, Threads: 1}, true},
		{"more passes", password.Params{Memory: 64, Time: 2, Threads: 1}, true},
		{"more lanes", password.Params{Memory: 64, Time: 1, Threads: 2}, true},
		{"longer key", password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 64}, true},
		{"stronger", stronger, true},
	}
	for _, tt := range tests {
		ok, rehash, err := tt.p.Verify("pw", old)
		if err != nil || !ok {
			t.Fatalf("%s: old hash does not verify under new params: %v", tt.name, err)
		}
		if rehash != tt.want || tt.p.NeedsRehash(old) != tt.want {
			t.Errorf("%s: needsRehash = %v, NeedsRehash = %v; want %v", tt.name, rehash, tt.p.NeedsRehash(old), tt.want)
		}
	}
	// The upgraded hash no longer needs it.
	h, _ := stronger.Hash("pw")
	if ok, rehash, _ := stronger.Verify("pw", h); !ok || rehash {
		t.Errorf("fresh hash: ok=%v rehash=%v", ok, rehash)
	}
}

func TestDefaults(t *testing.T) {
	if password.DefaultParams() != (password.Params{}).WithDefaultsForTest() {
		t.Fatal("zero Params does not mean DefaultParams")
	}
}

func TestInvalidHashes(t *testing.T) {
	good, _ := cheap.Hash("pw")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	bad := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=64,m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key, // 4 TiB: refused, not attempted
		"$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "!",
	}
	for _, h := range bad {
		ok, rehash, err := cheap.Verify("pw", h)
		if ok || rehash || !errors.Is(err, password.ErrInvalidHash) {
			t.Errorf("Verify(%q) = %v, %v, %v; want ErrInvalidHash", h, ok, rehash, err)
		}
		if !cheap.NeedsRehash(h) {
			t.Errorf("NeedsRehash(%q) = false for an invalid hash", h)
		}
	}
}

func TestVerifyDummyNeverPanics(t *testing.T) {
	cheap.VerifyDummy("pw")
	password.Params{Memory: 1, Time: 1, Threads: 1}.VerifyDummy("pw") // invalid params fall back to defaults
}

func FuzzVerify(f *testing.F) {
	good, _ := cheap.Hash("pw")
	f.Add(good)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, h string) {
		// Keep the fuzzer off expensive (valid but costly) parameters.
		if strings.Contains(h, "m=") && !strings.Contains(h, "m=64,") {
			return
		}
		ok, _, err := cheap.Verify("pw", h)
		if ok && err != nil {
			t.Fatal("match with an error")
		}
	})
}

func BenchmarkVerifyDefault(b *testing.B) {
	h, _ := password.Hash("correct horse battery staple")
	for b.Loop() {
		if ok, _, _ := password.Verify("correct horse battery staple", h); !ok {
			b.Fatal("no match")
		}
	}
}
