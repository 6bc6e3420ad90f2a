package nodecookie

import (
	"errors"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestDecode(t *testing.T) {
	if data, err := Decode("eyJhIjoxfQ=="); err != nil || string(data) != `{"a":1}` {
		t.Fatalf("Decode = %s, %v", data, err)
	}
	for _, bad := range []string{"", "eyJhIjoxfQ", "eyJhIjoxfR==", "eyJh-IjoxfQ==", "/w==", "%%%", "eyJh\nIjoxfQ=="} {
		if _, err := Decode(bad); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Errorf("Decode(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

// FuzzDecode: only canonical base64 of UTF-8 decodes, and it encodes back
// to itself.
func FuzzDecode(f *testing.F) {
	f.Add("eyJhIjoxfQ==")
	f.Add("e30=")
	f.Add("eyJhIjoxfQ")
	f.Add("eyJh\r\nIjoxfQ==")
	f.Fuzz(func(t *testing.T, v string) {
		data, err := Decode(v)
		if err != nil {
			return
		}
		if Encode(data) != v {
			t.Fatalf("Decode(%q) accepted a value Encode writes as %q", v, Encode(data))
		}
	})
}
