package jsjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestJSNumber(t *testing.T) {
	// JSON.stringify under Node.js 20.
	for _, tt := range []struct {
		in  float64
		out string
	}{
		{0, "0"}, {1, "1"}, {-1.5, "-1.5"}, {0.1, "0.1"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"},
		{123456789012345680000, "123456789012345680000"}, {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"},
		{1e-7, "1e-7"}, {9007199254740994, "9007199254740994"}, {5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"}, {100, "100"}, {1e300, "1e+300"},
		{0.5, "0.5"}, {123.456, "123.456"},
	} {
		if got := Number(tt.in); got != tt.out {
			t.Errorf("Number(%v) = %s, want %s", tt.in, got, tt.out)
		}
	}
}

func TestJSJSON(t *testing.T) {
	for _, tt := range []struct{ in, out string }{
		// JSON.stringify({s: "a<b>&\u2028\u2029\u0001\b\f\n\r\t\"\\\u007f\u00e9\ud83d\ude00"}) under Node.js 20.
		{`{"s":"a\u003cb\u003e\u0026\u2028\u2029\u0001\b\f\n\r\t\"\\` + "\u007f" + `\u00e9\ud83d\ude00"}`,
			"{\"s\":\"a<b>&\u2028\u2029\\u0001\\b\\f\\n\\r\\t\\\"\\\\\u007fé😀\"}"},
		{` { "a" : [ 1.0, 2e3, -0, 12345678901234567890 ], "b":{}, "a":true } `, `{"a":true,"b":{}}`},
		{`[null,false,"x"]`, `[null,false,"x"]`},
		{`1e999`, `null`},
	} {
		got, err := Stringify([]byte(tt.in))
		if err != nil || string(got) != tt.out {
			t.Errorf("Stringify(%s) = %s, %v; want %s", tt.in, got, err, tt.out)
		}
	}
	for _, bad := range []string{``, `{`, `[1,]`, `1 2`, `{"a"}`} {
		if got, err := Stringify([]byte(bad)); err == nil {
			t.Errorf("Stringify(%q) = %s, want error", bad, got)
		}
	}
}

func FuzzStringify(f *testing.F) {
	f.Add([]byte(`{"a":[1.0,2e3,-0,12345678901234567890],"b":{},"a":"\u2028<&>"}`))
	f.Add([]byte(`1e999`))
	f.Add([]byte(`"\ud800"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := Stringify(raw)
		if err != nil {
			return
		}
		// What JSON.stringify prints, JSON.parse reads back and
		// JSON.stringify prints the same way.
		again, err := Stringify(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("Stringify(%q) = %q, then %q (%v)", raw, out, again, err)
		}
		if _, err := ParseObject(out); err != nil && len(out) > 0 && out[0] == '{' {
			t.Fatalf("ParseObject(%q): %v", out, err)
		}
	})
}

func TestValues(t *testing.T) {
	read, err := ParseObject([]byte(`{"kept":{"a" : 1e21},"changed":1,"cookie":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	values := []sessionkit.Value{
		{Key: "kept", JSON: []byte(`{"a" : 1e21}`)},
		{Key: "changed", JSON: []byte(`2.50`)},
		{Key: "new", JSON: []byte(`"<\u2028>"`)},
	}
	isCookie := func(k string) bool { return k == "cookie" }
	ms, err := Values(values, read, isCookie, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteObject(&buf, ms)
	if want := `{"kept":{"a" : 1e21},"changed":2.5,"new":"<` + "\u2028" + `>"}`; buf.String() != want {
		t.Fatalf("Values = %s, want %s", buf.String(), want)
	}
	if _, err := Values(append(values, sessionkit.Value{Key: "cookie", JSON: []byte(`1`)}), read, isCookie, "test", 0); err == nil {
		t.Fatal("the format's own key was accepted as a value")
	}
	if _, err := Values([]sessionkit.Value{{Key: "bad", JSON: []byte(`{`)}}, nil, isCookie, "test", 0); err == nil {
		t.Fatal("invalid JSON was accepted")
	}
}

func TestSplitSession(t *testing.T) {
	for _, tt := range []struct {
		in     string
		keys   string // the values' keys, in order
		index  int
		cookie string // the cookie member's keys
		bad    bool
	}{
		{`{"cookie":{"originalMaxAge":1000,"path":"/"},"n":1,"passport":{"user":"a"}}`, "n,passport", 0, "originalMaxAge,path", false},
		{`{"n":1,"cookie":{}}`, "n", 1, "", false},
		{`{"n":1}`, "n", -1, "", false},
		{`{"n":1,"cookie":"x"}`, "", -1, "", true},
	} {
		ms, err := ParseObject([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		values, index, cookie, err := SplitSession(ms, "cookie")
		if tt.bad {
			if err == nil {
				t.Errorf("%s: no error for a cookie that is not an object", tt.in)
			}
			continue
		}
		var keys, ckeys []string
		for _, v := range values {
			keys = append(keys, v.Key)
		}
		for _, m := range cookie {
			ckeys = append(ckeys, m.Key)
		}
		if err != nil || strings.Join(keys, ",") != tt.keys || index != tt.index || strings.Join(ckeys, ",") != tt.cookie {
			t.Errorf("%s: values %v, index %d, cookie %v, err %v; want %s, %d, %s", tt.in, keys, index, ckeys, err, tt.keys, tt.index, tt.cookie)
		}
	}
}
