package express

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

func TestMigratedKey(t *testing.T) {
	id := "uZ1qgq2cJ4-Wl-Tm6Tq8hWfQa2rIYl3G"
	k := MigratedKey(id)
	if len(k) != 43 || k == id || k == sessionkit.New(nil).KeyOf(id) || strings.ContainsAny(k, "+/=") {
		t.Fatalf("MigratedKey(%q) = %q: want a 43-character base64url hash unlike the native key", id, k)
	}
	if MigratedKey(id) != k || MigratedKey(id+"x") == k {
		t.Fatal("MigratedKey is not a function of the ID")
	}
	// No native ID leads there: native IDs have no ':'.
	if sessionkit.New(nil).KeyOf(migratedKeyPrefix+id) != k {
		t.Fatal("MigratedKey is not the native hash of the prefixed ID")
	}
	if (sessionkit.RandomIDs{}).ValidID(migratedKeyPrefix + id) {
		t.Fatal("a native ID scheme accepts the prefixed ID")
	}
}

func TestNativeState(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, data string
		owner      string
		values     string // the values as Key=JSON, in order
		idle       time.Duration
		persistent bool
	}{
		{
			name:       "PassportNumber",
			data:       `{"cookie":{"originalMaxAge":7200000,"expires":"2026-05-01T13:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":42},"cart":[1]}`,
			owner:      "42",
			values:     `cart=[1] _user="42"`,
			idle:       2 * time.Hour,
			persistent: true,
		},
		{
			name:   "BrowserSessionCookieAndOtherPassportMembers",
			data:   `{"cookie":{"originalMaxAge":null,"expires":null,"path":"/"},"passport":{"user":"ann","strategy":"local"}}`,
			owner:  "ann",
			values: `passport={"strategy":"local"} _user="ann"`,
			idle:   DefaultTTL,
		},
		{
			name:   "SignedOutPassportObjectGoes",
			data:   `{"cookie":{"originalMaxAge":null,"expires":null},"passport":{},"flash":"hi"}`,
			values: `flash="hi"`,
			idle:   DefaultTTL,
		},
		{
			name:   "PassportUserReplacesAStaleUserValue",
			data:   `{"cookie":{"originalMaxAge":null},"_user":"old","passport":{"user":{"id":1}}}`,
			owner:  `{"id":1}`,
			values: `_user="{\"id\":1}"`,
			idle:   DefaultTTL,
		},
		{
			name:   "UserValueWithoutPassport",
			data:   `{"cookie":{"originalMaxAge":null},"_user":"bob"}`,
			owner:  "bob",
			values: `_user="bob"`,
			idle:   DefaultTTL,
		},
		{
			name:   "FalsyPassportUserIsNoUser",
			data:   `{"cookie":{"originalMaxAge":null},"passport":{"user":false}}`,
			values: ``,
			idle:   DefaultTTL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, owner, err := nativeState([]byte(tt.data), 0, "", now)
			if err != nil {
				t.Fatal(err)
			}
			var vs []string
			for _, v := range st.Values {
				vs = append(vs, v.Key+"="+string(v.JSON))
			}
			if got := strings.Join(vs, " "); got != tt.values || owner != tt.owner {
				t.Fatalf("values %s owner %q, want %s owner %q", got, owner, tt.values, tt.owner)
			}
			if st.IdleTimeout != tt.idle || st.Persistent != tt.persistent || !st.Created.Equal(now) || st.Opaque != nil {
				t.Fatalf("state %+v", st)
			}
		})
	}
	for _, data := range []string{
		`{"passport":{"user":1}}`, // no cookie object
		// koa-generic-session's record: a cookie object without originalMaxAge
		`{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":3600000},"passport":{"user":1}}`,
	} {
		if _, _, err := nativeState([]byte(data), 0, "", now); err == nil {
			t.Errorf("%s is not express-session's record but was converted", data)
		}
	}
}

func TestMigratedRecordMarks(t *testing.T) {
	st := sessionkit.State{Created: time.UnixMilli(1), LastActive: time.UnixMilli(2), Values: []sessionkit.Value{{Key: "express", JSON: json.RawMessage(`"a value, not the mark"`)}}}
	data, err := migratedRecord(&st, "0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if src, ok := migratedSource(data); !ok || src != "0123456789abcdef" {
		t.Fatalf("migratedSource(%s) = %q, %v", data, src, ok)
	}
	back, err := sessionkit.JSONCodec{}.Decode(data)
	if err != nil || len(back.Values) != 1 || string(back.Values[0].JSON) != `"a value, not the mark"` {
		t.Fatalf("JSONCodec reads the copy as %+v, %v", back, err)
	}
	plain, _ := sessionkit.JSONCodec{}.Encode(&st)
	if _, ok := migratedSource(plain); ok {
		t.Fatalf("a native record (%s) reads as a copy", plain)
	}
	for _, bad := range []string{``, `{`, `[]`, `{"express":1}`, `{"express":""}`} {
		if _, ok := migratedSource([]byte(bad)); ok {
			t.Errorf("migratedSource(%q) reports a copy", bad)
		}
	}
}

// FuzzNativeState: any record nativeState accepts becomes a copy that the
// native codec reads back with the same values, that carries its mark,
// and whose user value is the owner.
func FuzzNativeState(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":42}}`))
	f.Add([]byte(`{"cookie":{"originalMaxAge":null,"expires":null},"passport":{"user":"a","x":[1]},"_user":7}`))
	f.Add([]byte(`{"_user":"","cookie":{},"passport":"str","\u2028":{"user":1}}`))
	now := time.Unix(1e9, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		st, owner, err := nativeState(data, time.Hour, "", now)
		if err != nil {
			return
		}
		rec, err := migratedRecord(&st, "abcd")
		if err != nil {
			return // a key the native codec cannot write
		}
		if src, ok := migratedSource(rec); !ok || src != "abcd" {
			t.Fatalf("copy %s: mark %q %v", rec, src, ok)
		}
		back, err := sessionkit.JSONCodec{}.Decode(rec)
		if err != nil {
			t.Fatalf("copy %s of %s does not decode: %v", rec, data, err)
		}
		if len(back.Values) != len(st.Values) {
			t.Fatalf("copy %s: %d values, want %d", rec, len(back.Values), len(st.Values))
		}
		if owner != "" {
			found := false
			for _, v := range back.Values {
				var s string
				if v.Key == "_user" && json.Unmarshal(v.JSON, &s) == nil && s == owner {
					found = true
				}
			}
			if !found {
				t.Fatalf("copy %s: no _user %q", rec, owner)
			}
		}
	})
}
