package express

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Vectors from the reference page and from cookie-signature 1.2.2 with
// encodeURIComponent under Node.js 20.
var signVectors = []struct{ id, secret, cookie string }{
	{"apple", "keyboard cat", "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU"},
	{"%", "keyboard cat", "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g"},
	{"/foo", "keyboard cat", "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ"},
	{"19lww8624vKCSp5-rKj_MVbXzikR3nJN", "keyboard cat", "s%3A19lww8624vKCSp5-rKj_MVbXzikR3nJN.hWZwtZOBYoP%2FBrBvkwACZSVGEd167ZZsBA0sWdiwKOg"},
	{"19lww8624vKCSp5-rKj_MVbXzikR3nJN", "new secret ü", "s%3A19lww8624vKCSp5-rKj_MVbXzikR3nJN.YHz%2B2zoCKsxBEbn%2FuZw4OzUPZOyS4VSpHRXmHFSomVU"},
	{"a b+c!~*'()é", "s", "s%3Aa%20b%2Bc!~*'()%C3%A9.KIDhYpaBqi8u%2FxqHyZLR4Ou49Nf5ehee8vNx9sL9Zc8"},
}

func TestSignerVectors(t *testing.T) {
	for _, v := range signVectors {
		s, err := NewSigner(v.secret)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Sign(v.id); got != v.cookie {
			t.Errorf("Sign(%q) with %q = %s, want %s", v.id, v.secret, got, v.cookie)
		}
		if id, ok := s.Verify(v.cookie); !ok || id != v.id {
			t.Errorf("Verify(%s) = %q, %v; want %q, true", v.cookie, id, ok, v.id)
		}
		// Rotation: an old secret still verifies, the new one signs.
		rot, _ := NewSigner("the new one", v.secret)
		if id, ok := rot.Verify(v.cookie); !ok || id != v.id {
			t.Errorf("rotated Verify(%s) = %q, %v", v.cookie, id, ok)
		}
		if rot.Sign(v.id) == v.cookie {
			t.Errorf("rotated signer signs with the old secret")
		}
	}
}

func TestSignerRejects(t *testing.T) {
	s, _ := NewSigner("keyboard cat")
	good := signVectors[0].cookie
	decoded, _ := DecodeURIComponent(good)
	if id, ok := s.Verify(decoded); !ok || id != "apple" {
		t.Errorf("Verify of the unencoded value = %q, %v; want apple (cookie values without %% are used as they are)", id, ok)
	}
	for _, bad := range []string{
		"",
		"apple",                          // unsigned
		"s%3Aapple",                      // no signature
		strings.TrimPrefix(good, "s%3A"), // no s: prefix
		strings.Replace(good, "D8Y", "D8X", 1),
		good + "x",
		"s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MC", // truncated
		"s%3A%E0%A4%A.x",
		"s:" + signVectors[0].id + ".",
	} {
		if id, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%q) accepted (id %q)", bad, id)
		}
	}
	// '+' is never a space: "a+b+c..." is not the cookie of "a b+c...".
	s2, _ := NewSigner("s")
	if id, ok := s2.Verify(strings.Replace(signVectors[5].cookie, "%20", "+", 1)); ok {
		t.Errorf("'+' read as a space (id %q)", id)
	}
	if _, err := NewSigner(); err == nil {
		t.Error("NewSigner() accepted no secrets")
	}
	if _, err := NewSigner("a", ""); err == nil {
		t.Error("NewSigner accepted an empty secret")
	}
}

func TestURIComponent(t *testing.T) {
	for _, tt := range []struct{ in, out string }{
		{"", ""},
		{"abcXYZ019-_.!~*'()", "abcXYZ019-_.!~*'()"},
		{"s:a/b+c d=e;f,g%", "s%3Aa%2Fb%2Bc%20d%3De%3Bf%2Cg%25"},
		{"é😀", "%C3%A9%F0%9F%98%80"},
	} {
		if got := EncodeURIComponent(tt.in); got != tt.out {
			t.Errorf("EncodeURIComponent(%q) = %q, want %q", tt.in, got, tt.out)
		}
		if got, ok := DecodeURIComponent(tt.out); !ok || got != tt.in {
			t.Errorf("DecodeURIComponent(%q) = %q, %v", tt.out, got, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%G0", "%E0%A4%A", "%FF"} {
		if got, ok := DecodeURIComponent(bad); ok {
			t.Errorf("DecodeURIComponent(%q) = %q, want failure", bad, got)
		}
	}
	if got, _ := DecodeURIComponent("a+b%2b"); got != "a+b+" {
		t.Errorf("DecodeURIComponent(a+b%%2b) = %q", got)
	}
}

func TestIDs(t *testing.T) {
	var ids IDs
	seen := map[string]bool{}
	for range 100 {
		id := ids.NewID()
		if len(id) != 32 || !ids.ValidID(id) || seen[id] {
			t.Fatalf("NewID() = %q", id)
		}
		seen[id] = true
	}
	if !ids.ValidID("19lww8624vKCSp5-rKj_MVbXzikR3nJN") {
		t.Error("an express id was refused")
	}
	for _, bad := range []string{"", "apple", "19lww8624vKCSp5-rKj_MVbXzikR3nJ", "19lww8624vKCSp5-rKj_MVbXzikR3nJN0", "19lww8624vKCSp5+rKj/MVbXzikR3nJN", "19lww8624vKCSp5-rKj_MVbXzikR3n=="} {
		if ids.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestCodecRecordsFromReference(t *testing.T) {
	now := time.Date(2026, 11, 22, 23, 27, 29, 761e6, time.UTC)
	c := &Codec{Now: func() time.Time { return now }, MaxAge: 24 * time.Hour}
	tests := []struct {
		name, in   string
		persistent bool
		values     []string // key=json
	}{
		{"persistent", `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":42}}`,
			true, []string{`passport={"user":42}`}},
		{"browser session", `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`,
			false, []string{`v=1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := c.Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if st.Persistent != tt.persistent {
				t.Errorf("Persistent = %v", st.Persistent)
			}
			var got []string
			for _, v := range st.Values {
				got = append(got, v.Key+"="+string(v.JSON))
			}
			if strings.Join(got, " ") != strings.Join(tt.values, " ") {
				t.Errorf("values = %v, want %v", got, tt.values)
			}
			if tt.persistent && !st.Expires.Equal(now.Add(24*time.Hour)) {
				t.Errorf("Expires = %v", st.Expires)
			}
			// Unchanged, with the same expiry: byte for byte.
			out, err := c.Encode(&st)
			if err != nil || string(out) != tt.in {
				t.Errorf("Encode = %s, %v\nwant %s", out, err, tt.in)
			}
		})
	}
}

func TestCodecPreservesForeignKeys(t *testing.T) {
	in := `{"a":"x\u2028<y>","cookie":{"originalMaxAge":3600000,"partitioned":false,"expires":"2026-01-02T03:04:05.006Z","secure":false,"httpOnly":true,"domain":"example.com","path":"/app","sameSite":"strict"},"n":1.50,"big":12345678901234567890,"flash":{"msg":["hi"]}}`
	now := time.Date(2026, 1, 2, 2, 4, 5, 6e6, time.UTC)
	c := &Codec{Now: func() time.Time { return now }}
	st, err := c.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	// The Go side changes one value, deletes one and adds one, and the
	// session is saved with a new expiry.
	st.Values[1].JSON = json.RawMessage(`2.50`)
	st.Values = append(st.Values[:3], st.Values[4:]...) // drop flash
	st.Values = append(st.Values, sessionkit.Value{Key: "new", JSON: json.RawMessage(`"\u2028\u003c"`)})
	st.Expires = time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	out, err := c.Encode(&st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"x\u2028<y>","cookie":{"originalMaxAge":3600000,"partitioned":false,"expires":"2026-01-02T04:00:00.000Z","secure":false,"httpOnly":true,"domain":"example.com","path":"/app","sameSite":"strict"},"n":2.5,"big":12345678901234567890,"new":"` + "\u2028" + `<"}`
	if string(out) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", out, want)
	}
	// Becoming a browser-session cookie, as express writes it.
	st.Persistent = false
	out, _ = c.Encode(&st)
	if !strings.Contains(string(out), `"cookie":{"originalMaxAge":null,"partitioned":false,"expires":null,`) {
		t.Errorf("non-persistent Encode = %s", out)
	}
}

func TestCodecNewSession(t *testing.T) {
	ct := sessionkit.DefaultCookie()
	c := &Codec{Cookie: &ct, MaxAge: 24 * time.Hour}
	st := sessionkit.State{
		Persistent: true,
		Expires:    time.Date(2026, 11, 23, 23, 27, 29, 761e6, time.UTC),
		Values:     []sessionkit.Value{{Key: "passport", JSON: json.RawMessage(`{"user":42}`)}},
	}
	out, err := c.Encode(&st)
	want := `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":42}}`
	if err != nil || string(out) != want {
		t.Errorf("Encode = %s, %v\nwant %s", out, err, want)
	}
	st = sessionkit.State{Values: []sessionkit.Value{{Key: "v", JSON: json.RawMessage(`1`)}}}
	c = &Codec{}
	out, _ = c.Encode(&st)
	if want := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`; string(out) != want {
		t.Errorf("Encode = %s, want %s", out, want)
	}
	st.Values = append(st.Values, sessionkit.Value{Key: "cookie", JSON: json.RawMessage(`1`)})
	if _, err := c.Encode(&st); err == nil {
		t.Error(`a value named "cookie" was accepted`)
	}
}

// A session's cookie object is its lifetime: originalMaxAge is its idle
// timeout, null is a browser-session cookie kept for the store's TTL, and
// Encode writes back what the Go side chose.
func TestCodecLifetime(t *testing.T) {
	c := &Codec{MaxAge: time.Hour, TTL: 24 * time.Hour}
	tests := []struct {
		cookie     string
		idle       time.Duration
		persistent bool
	}{
		{`{"originalMaxAge":2000,"expires":"2026-11-23T23:27:29.761Z"}`, 2 * time.Second, true},
		{`{"originalMaxAge":2592000000,"expires":"2026-12-23T23:27:29.761Z"}`, 30 * 24 * time.Hour, true},
		{`{"originalMaxAge":null,"expires":null}`, 24 * time.Hour, false},
		{`{"originalMaxAge":-5,"expires":null}`, 24 * time.Hour, false},
		{`{"originalMaxAge":1e300,"expires":null}`, 24 * time.Hour, false},
		{`{"expires":"2026-11-23T23:27:29.761Z"}`, 24 * time.Hour, true},
	}
	for _, tc := range tests {
		st, err := c.Decode([]byte(`{"cookie":` + tc.cookie + `,"v":1}`))
		if err != nil {
			t.Fatalf("Decode(%s): %v", tc.cookie, err)
		}
		if st.IdleTimeout != tc.idle || st.Persistent != tc.persistent {
			t.Errorf("Decode(%s): idle %v persistent %v, want %v %v", tc.cookie, st.IdleTimeout, st.Persistent, tc.idle, tc.persistent)
		}
	}
	// The Go side gives a browser-session session a 10-day maxAge.
	st, _ := c.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`))
	st.IdleTimeout, st.Persistent = 10*24*time.Hour, true
	st.Expires = time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC)
	out, err := c.Encode(&st)
	if want := `{"cookie":{"originalMaxAge":864000000,"expires":"2026-12-11T00:00:00.000Z","httpOnly":true,"path":"/"},"v":1}`; err != nil || string(out) != want {
		t.Errorf("Encode = %s, %v\nwant %s", out, err, want)
	}
	// And back to a browser-session cookie.
	st.Persistent = false
	out, _ = c.Encode(&st)
	if want := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`; string(out) != want {
		t.Errorf("Encode = %s\nwant %s", out, want)
	}
}

func TestCodecDecodeErrors(t *testing.T) {
	c := &Codec{}
	for _, bad := range []string{``, `[]`, `{}`, `{"v":1}`, `{"cookie":1}`, `{"cookie":{"expires":"soon"}}`, `{"cookie":{}} x`, `{"cookie":{"expires":3}}`} {
		if _, err := c.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

func TestUserKey(t *testing.T) {
	for _, tt := range []struct{ rec, key string }{
		{`{"cookie":{},"passport":{"user":42}}`, "42"},
		{`{"cookie":{},"passport":{"user":0}}`, "0"},
		{`{"cookie":{},"passport":{"user":"ann"}}`, "ann"},
		{`{"cookie":{},"passport":{"user":{"id":1}}}`, `{"id":1}`},
		{`{"cookie":{},"passport":{"user":""}}`, ""},
		{`{"cookie":{},"passport":{"user":false}}`, ""},
		{`{"cookie":{},"passport":{"user":null}}`, ""},
		{`{"cookie":{},"passport":{}}`, ""},
		{`{"cookie":{},"passport":"x"}`, ""},
		{`{"cookie":{}}`, ""},
		{`garbage`, ""},
	} {
		if got := UserKey([]byte(tt.rec)); got != tt.key {
			t.Errorf("UserKey(%s) = %q, want %q", tt.rec, got, tt.key)
		}
	}
}
