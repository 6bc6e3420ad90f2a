package koa

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

var testNow = time.Date(2026, 11, 22, 23, 27, 29, 761e6, time.UTC)

func testCodec() *Codec {
	return &Codec{MaxAge: DefaultMaxAge, Now: func() time.Time { return testNow }}
}

func TestCodecKeepsNodeBytes(t *testing.T) {
	c := testCodec()
	exp := testNow.Add(time.Hour).UnixMilli()
	// JSON.stringify of a session koa-session saved.
	in := `{"views":3,"note":{"html":"<b>&</b>","sep":"` + "\u2028" + `","n":1e+21},"passport":{"user":1},"_expire":` + itoa(exp) + `,"_maxAge":3600000}`
	st, err := c.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Persistent || st.IdleTimeout != time.Hour || len(st.Values) != 3 || st.Values[2].Key != "passport" {
		t.Fatalf("Decode = %+v", st)
	}
	// Unchanged: written back as it was (the Manager sets Expires).
	st.Expires = time.UnixMilli(exp)
	out, err := c.Encode(&st)
	if err != nil || string(out) != in {
		t.Fatalf("Encode = %s, %v\nwant     %s", out, err, in)
	}
	// A Go change to one key, and a new key, leave the others' bytes.
	st.Values[0].JSON = []byte(`4`)
	st.Values = append(st.Values, sessionkit.Value{Key: "big", JSON: []byte(`12345678901234567890`)})
	st.Expires = testNow.Add(2 * time.Hour)
	out, err = c.Encode(&st)
	want := `{"views":4,"note":{"html":"<b>&</b>","sep":"` + "\u2028" + `","n":1e+21},"passport":{"user":1},"big":12345678901234567000,"_expire":` + itoa(testNow.Add(2*time.Hour).UnixMilli()) + `,"_maxAge":3600000}`
	if err != nil || string(out) != want {
		t.Fatalf("Encode = %s, %v\nwant     %s", out, err, want)
	}
}

func TestCodecLifetime(t *testing.T) {
	c := testCodec()
	// maxAge: 'session'
	st, err := c.Decode([]byte(`{"a":1,"_session":true}`))
	if err != nil || st.Persistent || st.IdleTimeout != 0 {
		t.Fatalf("Decode(_session) = %+v, %v", st, err)
	}
	out, _ := c.Encode(&st)
	if string(out) != `{"a":1,"_session":true}` {
		t.Fatalf("Encode(_session) = %s", out)
	}
	// A new persistent session gets the codec's MaxAge.
	st = sessionkit.State{Persistent: true, Values: []sessionkit.Value{{Key: "a", JSON: []byte(`"x"`)}}, Expires: testNow.Add(DefaultMaxAge)}
	out, _ = c.Encode(&st)
	if want := `{"a":"x","_expire":` + itoa(testNow.Add(DefaultMaxAge).UnixMilli()) + `,"_maxAge":86400000}`; string(out) != want {
		t.Fatalf("Encode(new) = %s, want %s", out, want)
	}
	// Remember-me off from Go: a browser-session cookie.
	st.Persistent = false
	if out, _ = c.Encode(&st); string(out) != `{"a":"x","_session":true}` {
		t.Fatalf("Encode(RememberMe(false)) = %s", out)
	}
	// Expired by _expire: not found, whatever the store says.
	_, err = c.Decode([]byte(`{"a":1,"_expire":` + itoa(testNow.Add(-time.Millisecond).UnixMilli()) + `,"_maxAge":1000}`))
	if !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("Decode(expired) = %v, want ErrNotFound", err)
	}
	// Exactly now is still valid (_expire < Date.now() is expired).
	if _, err := c.Decode([]byte(`{"_expire":` + itoa(testNow.UnixMilli()) + `}`)); err != nil {
		t.Fatalf("Decode(_expire = now) = %v", err)
	}
	// koa-session's own keys are not values.
	for _, k := range []string{"_expire", "_maxAge", "_session"} {
		st := sessionkit.State{Values: []sessionkit.Value{{Key: k, JSON: []byte(`1`)}}}
		if _, err := c.Encode(&st); err == nil {
			t.Errorf("Encode accepted a value named %s", k)
		}
	}
	// Values koa-session reads but does not write back are kept here.
	st, _ = c.Decode([]byte(`{"_login":{"at":1},"isNew":true,"_session":1}`))
	if len(st.Values) != 2 {
		t.Fatalf("values = %+v", st.Values)
	}
}

func TestCodecRefusesGarbage(t *testing.T) {
	c := testCodec()
	for _, in := range []string{``, `[]`, `null`, `"x"`, `{`, `{"a":1}x`, `{"a":}`, `5`} {
		if _, err := c.Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) succeeded", in)
		}
	}
}

func TestSetExpire(t *testing.T) {
	in := []byte(`{"a":1,"_expire":5,"_maxAge":10}`)
	out, err := setExpire(in, time.UnixMilli(7))
	if err != nil || string(out) != `{"a":1,"_expire":7,"_maxAge":10}` {
		t.Fatalf("setExpire = %s, %v", out, err)
	}
	if out, _ := setExpire([]byte(`{"a":1,"_session":true}`), time.UnixMilli(7)); string(out) != `{"a":1,"_session":true}` {
		t.Fatalf("setExpire(_session) = %s", out)
	}
}

func TestUUIDs(t *testing.T) {
	for _, prefix := range []string{"", "koa:sess:"} {
		u := UUIDs{Prefix: prefix}
		seen := map[string]bool{}
		for i := 0; i < 100; i++ {
			id := u.NewID()
			if !u.ValidID(id) || seen[id] || !strings.HasPrefix(id, prefix) {
				t.Fatalf("NewID() = %q", id)
			}
			seen[id] = true
		}
	}
	u := UUIDs{}
	// crypto.randomUUID() under Node.js 20.
	if !u.ValidID("1b4e28ba-2fa1-4d2b-883f-0016d3cca427") {
		t.Error("a randomUUID was refused")
	}
	for _, bad := range []string{"", "1b4e28ba-2fa1-4d2b-883f-0016d3cca42", "1B4E28BA-2FA1-4D2B-883F-0016D3CCA427",
		"1b4e28ba-2fa1-1d2b-883f-0016d3cca427", "1b4e28ba-2fa1-4d2b-c83f-0016d3cca427", "1b4e28ba2fa14d2b883f0016d3cca427xxxx",
		"x:1b4e28ba-2fa1-4d2b-883f-0016d3cca427"} {
		if u.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if (UUIDs{Prefix: "p:"}).ValidID("1b4e28ba-2fa1-4d2b-883f-0016d3cca427") {
		t.Error("an ID without the prefix was accepted")
	}
}

func TestGenericCodec(t *testing.T) {
	c := &GenericCodec{MaxAge: time.Hour}
	in := `{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000},"views":1,"passport":{"user":"ann"}}`
	st, err := c.Decode([]byte(in))
	if err != nil || !st.Persistent || st.IdleTimeout != 24*time.Hour || len(st.Values) != 2 {
		t.Fatalf("Decode = %+v, %v", st, err)
	}
	if out, err := c.Encode(&st); err != nil || string(out) != in {
		t.Fatalf("Encode(unchanged) = %s, %v", out, err)
	}
	// The Go side sets this session's maxAge and a value.
	st.IdleTimeout = 2 * time.Hour
	st.Values[0].JSON = []byte(`2`)
	want := `{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":7200000},"views":2,"passport":{"user":"ann"}}`
	if out, _ := c.Encode(&st); string(out) != want {
		t.Fatalf("Encode = %s\nwant     %s", out, want)
	}
	// Browser-session cookie, and an expires date as the deadline.
	st, err = c.Decode([]byte(`{"cookie":{"path":"/","maxAge":null,"expires":"2026-12-01T00:00:00.000Z"},"a":1}`))
	if err != nil || st.Persistent || st.IdleTimeout != DefaultMaxAge || !st.Deadline.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Decode = %+v, %v", st, err)
	}
	if out, _ := c.Encode(&st); string(out) != `{"cookie":{"path":"/","maxAge":null,"expires":"2026-12-01T00:00:00.000Z"},"a":1}` {
		t.Fatalf("Encode = %s", out)
	}
	st.Deadline = time.Time{}
	st.Persistent = true
	st.IdleTimeout = time.Minute
	if out, _ := c.Encode(&st); string(out) != `{"cookie":{"path":"/","maxAge":60000},"a":1}` {
		t.Fatalf("Encode = %s", out)
	}
	// A new session's cookie object.
	ct := sessionkit.DefaultCookie()
	c.Cookie = &ct
	st = sessionkit.State{Persistent: true, Values: []sessionkit.Value{{Key: "a", JSON: []byte(`1`)}}}
	if out, _ := c.Encode(&st); string(out) != `{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"sameSite":"lax","maxAge":3600000},"a":1}` {
		t.Fatalf("Encode(new) = %s", out)
	}
	for _, in := range []string{`{"a":1}`, `{"cookie":5}`, `{"cookie":{"expires":"soon"}}`, `[]`} {
		if _, err := c.Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s) succeeded", in)
		}
	}
	st = sessionkit.State{Values: []sessionkit.Value{{Key: "cookie", JSON: []byte(`{}`)}}}
	if _, err := c.Encode(&st); err == nil {
		t.Error(`Encode accepted a value named "cookie"`)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
