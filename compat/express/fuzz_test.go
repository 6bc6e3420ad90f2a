package express

import (
	"bytes"
	"testing"
	"time"
)

func FuzzCodec(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":42}}`))
	f.Add([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`))
	f.Add([]byte(`{"a":"\u2028","cookie":{},"a":[1e400,-0,{"x":null}]}`))
	c := &Codec{Now: func() time.Time { return time.Unix(1e9, 0) }}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := c.Decode(data)
		if err != nil {
			return
		}
		out, err := c.Encode(&st)
		if err != nil {
			return // e.g. a value that is not valid JSON after all
		}
		// What Encode writes decodes to the same values.
		st2, err := c.Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)) = %v (encoded %q)", data, err, out)
		}
		if len(st2.Values) != len(st.Values) {
			t.Fatalf("values %d, then %d", len(st.Values), len(st2.Values))
		}
		out2, err := c.Encode(&st2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Encode not stable: %q then %q (%v)", out, out2, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, v := range signVectors {
		f.Add(v.cookie)
	}
	f.Add("s:apple.x")
	f.Add("%E0%A4%A")
	s, _ := NewSigner("keyboard cat")
	f.Fuzz(func(t *testing.T, value string) {
		id, ok := s.Verify(value)
		if ok && s.Sign(id) != value {
			if dec, _ := DecodeURIComponent(value); dec != "s:"+sign(id, s.secrets[0]) {
				t.Fatalf("Verify(%q) accepted id %q that signs differently", value, id)
			}
		}
	})
}
