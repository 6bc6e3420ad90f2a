package keygrip_test

import (
	"crypto/sha256"
	"testing"

	"github.com/sessionkit/sessionkit/compat/keygrip"
)

// Vectors from keygrip 1.1.0 under Node.js 20.
var vectors = []struct{ key, data, sig string }{
	{"keyboard cat", "koa.sess=eyJhIjoxfQ==", "UxyEIPuJpLYAI3ZI2k-cm4uO6hs"},
	{"new key", "session=e30=", "KZwCNm55ShVjGCXAgwJpqiMAFxE"},
	{"ü ключ", "koa.sid=abc", "6OgLnFuJnKJlPBHHtA1Z1yu46ro"},
	{"keyboard cat", "", "gj_vn-KDegY4fi7W5FNHzYIOfro"},
}

func TestSignMatchesKeygrip(t *testing.T) {
	for _, v := range vectors {
		k, err := keygrip.New(v.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Sign(v.data); got != v.sig {
			t.Errorf("Sign(%q) with %q = %q, want %q", v.data, v.key, got, v.sig)
		}
		if ok, stale := k.Verify(v.data, v.sig); !ok || stale {
			t.Errorf("Verify(%q, %q) = %v, %v", v.data, v.sig, ok, stale)
		}
	}
	// new Keygrip(["k"], "sha256")
	k, err := keygrip.NewHash(sha256.New, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Sign("x=y"), "bvbYH9C6d4LDmUNI_8yyfBGP1g1JF2ACSBefZr-PkrM"; got != want {
		t.Errorf("sha256 Sign = %q, want %q", got, want)
	}
}

func TestRotation(t *testing.T) {
	old, _ := keygrip.New("old key")
	k, err := keygrip.New("new key", "old key")
	if err != nil {
		t.Fatal(err)
	}
	const data = "session=e30="
	if i := k.Index(data, k.Sign(data)); i != 0 {
		t.Errorf("Index of a current signature = %d", i)
	}
	// keygrip.index returns 1 for the old key's signature.
	if i := k.Index(data, old.Sign(data)); i != 1 {
		t.Errorf("Index of an old signature = %d, want 1", i)
	}
	if ok, stale := k.Verify(data, old.Sign(data)); !ok || !stale {
		t.Errorf("Verify(old signature) = %v, %v, want true, true", ok, stale)
	}
	if k.Sign(data) != "KZwCNm55ShVjGCXAgwJpqiMAFxE" {
		t.Error("the first key does not sign")
	}
	other, _ := keygrip.New("another key")
	sig := k.Sign(data)
	for _, bad := range []string{"", other.Sign(data), sig[:len(sig)-1], sig + "A", sig + "=", " " + sig} {
		if ok, _ := k.Verify(data, bad); ok {
			t.Errorf("Verify(%q) = true", bad)
		}
	}
	if ok, _ := k.Verify(data+" ", sig); ok {
		t.Error("a signature verified other data")
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := keygrip.New(); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := keygrip.New("a", ""); err == nil {
		t.Error("an empty key accepted")
	}
	if _, err := keygrip.NewHash(nil, "a"); err == nil {
		t.Error("a nil hash accepted")
	}
}

// FuzzVerify: only what Sign makes, with one of the keys, verifies.
func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.data, v.sig)
	}
	cur, _ := keygrip.New("current")
	old, _ := keygrip.New("old")
	k, _ := keygrip.New("current", "old")
	f.Fuzz(func(t *testing.T, data, sig string) {
		ok, stale := k.Verify(data, sig)
		if ok != (sig == cur.Sign(data) || sig == old.Sign(data)) {
			t.Fatalf("Verify(%q, %q) = %v", data, sig, ok)
		}
		if ok && stale != (sig != cur.Sign(data)) {
			t.Fatalf("stale = %v for %q", stale, sig)
		}
	})
}
