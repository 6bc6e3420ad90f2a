package koa

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// FuzzCodec: Decode never panics, and what Encode writes decodes to the
// same values and encodes the same again.
func FuzzCodec(f *testing.F) {
	f.Add([]byte(`{"views":3,"passport":{"user":1},"_expire":1795555200000,"_maxAge":86400000}`))
	f.Add([]byte(`{"a":"\u2028","_session":true,"a":[1e400,-0,{"x":null}]}`))
	f.Add([]byte(`{"_expire":"soon","_maxAge":-1,"isNew":true}`))
	c := testCodec()
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := c.Decode(data)
		if err != nil {
			return
		}
		st.Expires = testNow.Add(time.Hour)
		out, err := c.Encode(&st)
		if err != nil {
			return // a value named like koa-session's keys, say
		}
		st2, err := c.Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)) = %v (encoded %q)", data, err, out)
		}
		if len(st2.Values) != len(st.Values) || st2.Persistent != st.Persistent {
			t.Fatalf("%q: decoded %+v, then %+v", data, st, st2)
		}
		st2.Expires = st.Expires
		out2, err := c.Encode(&st2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Encode not stable: %q then %q (%v)", out, out2, err)
		}
	})
}

// FuzzGenericCodec: the same for koa-generic-session's records.
func FuzzGenericCodec(f *testing.F) {
	f.Add([]byte(`{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000},"views":1}`))
	f.Add([]byte(`{"a":1,"cookie":{"maxAge":null,"expires":"2026-12-01T00:00:00.000Z"},"a":2}`))
	c := &GenericCodec{MaxAge: time.Hour}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := c.Decode(data)
		if err != nil {
			return
		}
		out, err := c.Encode(&st)
		if err != nil {
			return
		}
		st2, err := c.Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)) = %v (encoded %q)", data, err, out)
		}
		if len(st2.Values) != len(st.Values) || st2.Persistent != st.Persistent || st2.IdleTimeout != st.IdleTimeout {
			t.Fatalf("%q: decoded %+v, then %+v", data, st, st2)
		}
		out2, err := c.Encode(&st2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Encode not stable: %q then %q (%v)", out, out2, err)
		}
	})
}

// FuzzCookieOpen: any cookie value opens or is refused without a panic,
// and one that opens seals back to itself.
func FuzzCookieOpen(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	f.Add(b64([]byte(`{"n":1,"_expire":1795555200000,"_maxAge":86400000}`)))
	f.Add(b64([]byte(`{"n":1,"_session":true}`)))
	f.Add("eyJhIjoxfQ")
	f.Add("e30=")
	f.Add("////")
	cs := &CookieStore{Now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, token string) {
		rec, err := cs.Open(token)
		if err != nil {
			return
		}
		if !rec.Expiry.After(testNow.Add(-time.Millisecond)) {
			t.Fatalf("Open(%q) returned an expired record (%v)", token, rec.Expiry)
		}
		again, err := cs.Seal(rec)
		if err != nil {
			t.Fatalf("Seal(Open(%q)): %v", token, err)
		}
		if f := readFieldsOf(rec.Data); f.hasExpire && again != token {
			t.Fatalf("Seal(Open(%q)) = %q", token, again)
		}
	})
}

func readFieldsOf(data []byte) fields {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return fields{}
	}
	return readFields(ms)
}
