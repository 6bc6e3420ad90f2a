package sessionkit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// FuzzJSONCodecDecode: decoding arbitrary store bytes never panics, and
// whatever decodes survives an encode/decode round trip unchanged.
func FuzzJSONCodecDecode(f *testing.F) {
	f.Add([]byte(`{"created":1700000000000,"active":1700000300000,"persistent":true,"values":{"count":3,"name":"Zoë"}}`))
	f.Add([]byte(`{"created":1,"active":2,"values":{"a\u0000b":[1,{"x":null}],"":""}}`))
	f.Add([]byte(`{"values":{"k":1e400}}`))
	f.Add([]byte(`{"created":-1,"values":{}, "extra":[[[[]]]]}`))
	f.Add([]byte(`{"values":{"a":1,"a":2}}`))
	f.Add([]byte(`{"created":1700000000000,"active":1700000300000,"persistent":true,"idle":604800000,"deadline":1702592000000,"values":{}}`))
	f.Add([]byte(`{"idle":-1,"values":{}}`))
	f.Add([]byte(`{"idle":9223372036854775807,"deadline":-5,"values":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c sessionkit.JSONCodec
		st, err := c.Decode(data)
		if err != nil {
			return
		}
		for _, v := range st.Values {
			if !json.Valid(v.JSON) {
				t.Fatalf("decoded value %q is not valid JSON: %q", v.Key, v.JSON)
			}
		}
		enc, err := c.Encode(&st)
		if err != nil {
			t.Fatalf("re-encoding a decoded record failed: %v", err)
		}
		again, err := c.Decode(enc)
		if err != nil {
			t.Fatalf("decoding our own encoding failed: %v\n%s", err, enc)
		}
		if len(again.Values) != len(st.Values) || !again.Created.Equal(st.Created) || again.Persistent != st.Persistent ||
			again.IdleTimeout != st.IdleTimeout.Truncate(time.Millisecond) || !again.Deadline.Equal(st.Deadline) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", st, again)
		}
		for i := range st.Values {
			if again.Values[i].Key != st.Values[i].Key || !bytes.Equal(again.Values[i].JSON, st.Values[i].JSON) {
				t.Fatalf("value %d changed: %+v -> %+v", i, st.Values[i], again.Values[i])
			}
		}
	})
}

// FuzzCookieHeader: any Cookie header gives a normal response, never a 500
// or a panic, and never adopts the client's token.
func FuzzCookieHeader(f *testing.F) {
	good := sessionkit.RandomIDs{}.NewID()
	f.Add("session=" + good)
	f.Add("session=" + good + "; session=x")
	f.Add(`session="` + good + `"`)
	f.Add("session=" + good[:20])
	f.Add("a=b; session=%zz; ;;; =; session")
	f.Add("session=" + good + ".sig")
	f.Add("session=" + good + "; session.sig=" + testDetached{keys: []string{"k"}}.Sign("session="+good))
	f.Add("session.sig=; session=" + good + "; session.sig=x")
	mem := memstore.New(memstore.Options{SweepInterval: -1})
	defer mem.Close()
	signer, err := sessionkit.NewHMACSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		f.Fatal(err)
	}
	plain := sessionkit.New(mem)
	signed := sessionkit.New(mem)
	signed.Cookie.Signer = signer
	detached := sessionkit.New(mem)
	detached.Cookie.DetachedSigner = testDetached{keys: []string{"k", "old"}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
	})
	f.Fuzz(func(t *testing.T, header string) {
		for _, m := range []*sessionkit.Manager{plain, signed, detached} {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header["Cookie"] = []string{header}
			rec := httptest.NewRecorder()
			m.Handler(handler).ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d for Cookie %q", rec.Code, header)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == "session" && c.Value != "" && bytes.Contains([]byte(header), []byte(c.Value)) {
					t.Fatalf("adopted the client's token %q", c.Value)
				}
			}
		}
	})
}

// FuzzHMACVerify: verification never panics and accepts only what Sign made.
func FuzzHMACVerify(f *testing.F) {
	s, err := sessionkit.NewHMACSigner(bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Sign("token"))
	f.Add("token.")
	f.Add(".....")
	f.Fuzz(func(t *testing.T, signed string) {
		token, ok := s.Verify(signed)
		if ok && s.Sign(token) != signed {
			t.Fatalf("Verify accepted %q, which Sign would write as %q", signed, s.Sign(token))
		}
	})
}

// FuzzRandomIDsValidID: ValidID accepts exactly the 43-character strings
// that base64.RawURLEncoding.Strict() decodes into 32 bytes (the decoder
// skips CR and LF, so the length is checked first).
func FuzzRandomIDsValidID(f *testing.F) {
	good := sessionkit.RandomIDs{}.NewID()
	f.Add(good)
	f.Add(good[:42] + "B") // padding bits set
	f.Add(good[:42] + "E")
	f.Add(good[:42] + "=")
	f.Add(good[:20] + "\n" + good[21:])
	f.Add(good[:20] + "+" + good[21:])
	f.Add(good + "A")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		b, err := base64.RawURLEncoding.Strict().DecodeString(id)
		want := len(id) == 43 && err == nil && len(b) == 32
		if got := (sessionkit.RandomIDs{}).ValidID(id); got != want {
			t.Fatalf("ValidID(%q) = %v, want %v", id, got, want)
		}
	})
}
