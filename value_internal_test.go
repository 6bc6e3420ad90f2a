package sessionkit

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// TestMarshalBasicLikeEncodingJSON: the values marshalBasic encodes itself
// come out exactly as encoding/json (without HTML escaping) writes them,
// and JSONCodec writes value keys as it does.
func TestMarshalBasicLikeEncodingJSON(t *testing.T) {
	type named int // its own type: left to encoding/json
	for _, c := range []struct {
		v    any
		fast bool
	}{
		{0, true}, {1, true}, {-1, true}, {math.MaxInt, true}, {math.MinInt, true},
		{int64(0), true}, {int64(math.MaxInt64), true}, {int64(math.MinInt64), true},
		{true, true}, {false, true},
		{"", true}, {"abc", true}, {"a b~!#<>&", true}, {" ", true}, {"\x7e", true},
		{`a"b`, false}, {`a\b`, false}, {"a\nb", false}, {"\x1f", false}, {"\x7f", false},
		{"é", false}, {"\u2028", false}, {"\xff", false},
		{int32(1), false}, {uint(1), false}, {1.5, false}, {named(1), false}, {nil, false},
		{[]int{1}, false}, {map[string]int{"a": 1}, false},
	} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.v); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		raw, fast := marshalBasic(c.v)
		if fast != c.fast {
			t.Errorf("%#v: encoded by marshalBasic itself: %v, want %v", c.v, fast, c.fast)
		}
		if fast && !bytes.Equal(raw, want) {
			t.Errorf("%#v: marshalBasic wrote %s, encoding/json %s", c.v, raw, want)
		}
		got, err := marshalValue(c.v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%#v: marshalValue = %s, %v; want %s", c.v, got, err, want)
		}
		if s, ok := c.v.(string); ok {
			var kb bytes.Buffer
			if err := writeJSONString(&kb, s); err != nil || !bytes.Equal(kb.Bytes(), want) {
				t.Errorf("key %q: writeJSONString wrote %s, %v; want %s", s, kb.Bytes(), err, want)
			}
		}
	}
}
