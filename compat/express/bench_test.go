package express

import (
	"testing"
	"time"
)

var benchRecord = []byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":42},"cart":[1,2,3],"flash":{"msg":"saved"}}`)

func BenchmarkCodecDecode(b *testing.B) {
	c := &Codec{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(benchRecord); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecEncode(b *testing.B) {
	c := &Codec{}
	st, err := c.Decode(benchRecord)
	if err != nil {
		b.Fatal(err)
	}
	st.Values[1].JSON = []byte(`[1,2,3,4]`) // one changed value
	st.Expires = time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(&st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignerVerify(b *testing.B) {
	s, _ := NewSigner("new secret", "keyboard cat")
	v := signVectors[3].cookie // signed with the second secret
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Verify(v); !ok {
			b.Fatal("not verified")
		}
	}
}
