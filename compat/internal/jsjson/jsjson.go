// Package jsjson reads and writes JSON the way JavaScript's JSON.parse and
// JSON.stringify do, for the compat packages that share sessions with
// Node.js: objects keep their key order (a repeated key keeps its first
// position and its last value), values the Go side did not change keep
// their bytes, and new values are printed as JSON.stringify prints them.
package jsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit"
)

// Member is one key of a JSON object with its value's bytes as written.
type Member struct {
	Key string
	Raw json.RawMessage
}

// ParseObject reads a JSON object into its members in written order. As
// JSON.parse does, a repeated key keeps its first position and its last
// value.
func ParseObject(data []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var ms []Member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if i := Find(ms, key); i >= 0 {
			ms[i].Raw = raw
			continue
		}
		ms = append(ms, Member{Key: key, Raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return ms, nil
}

// Find returns the index of key in ms, or -1.
func Find(ms []Member, key string) int {
	for i, m := range ms {
		if m.Key == key {
			return i
		}
	}
	return -1
}

// SplitSession splits the members of a Node session record into the
// session's values and its object-valued member named key (the "cookie"
// of express-session and koa-generic-session): index is that member's
// position in ms (-1, with obj nil, when there is none), obj its parsed
// members. err reports a member key that is not a JSON object.
func SplitSession(ms []Member, key string) (values []sessionkit.Value, index int, obj []Member, err error) {
	index = -1
	values = make([]sessionkit.Value, 0, len(ms))
	for i, m := range ms {
		if m.Key != key {
			values = append(values, sessionkit.Value{Key: m.Key, JSON: m.Raw})
			continue
		}
		index = i
		if obj, err = ParseObject(m.Raw); err != nil {
			return nil, -1, nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return values, index, obj, nil
}

// WriteObject writes members as a compact JSON object; values are written
// as they are.
func WriteObject(buf *bytes.Buffer, ms []Member) {
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		WriteString(buf, m.Key)
		buf.WriteByte(':')
		buf.Write(m.Raw)
	}
	buf.WriteByte('}')
}

// Stringify rewrites a JSON value the way JavaScript's
// JSON.stringify(JSON.parse(raw)) would print it: no whitespace, strings escaped as JavaScript escapes
// them (no HTML escaping, U+2028 and U+2029 as they are), numbers as
// JavaScript prints doubles, and, for a repeated object key, the first
// position with the last value.
func Stringify(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := writeValue(&buf, dec); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after a JSON value")
	}
	return buf.Bytes(), nil
}

func writeValue(buf *bytes.Buffer, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			buf.WriteByte('[')
			for n := 0; dec.More(); n++ {
				if n > 0 {
					buf.WriteByte(',')
				}
				if err := writeValue(buf, dec); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			buf.WriteByte(']')
			return err
		}
		// An object: collect the members first, for repeated keys.
		var ms []Member
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			var v bytes.Buffer
			if err := writeValue(&v, dec); err != nil {
				return err
			}
			if i := Find(ms, key); i >= 0 {
				ms[i].Raw = v.Bytes()
			} else {
				ms = append(ms, Member{Key: key, Raw: v.Bytes()})
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		WriteObject(buf, ms)
	case string:
		WriteString(buf, t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return err
		}
		buf.WriteString(Number(f))
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("unexpected JSON token %v", tok)
	}
	return nil
}

// WriteString writes s as JSON.stringify does. Invalid UTF-8 (which a
// JavaScript string cannot hold) becomes U+FFFD.
func WriteString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				buf.WriteString(`\"`)
			case '\\':
				buf.WriteString(`\\`)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				if c < 0x20 {
					buf.WriteString(`\u00`)
					buf.WriteByte(hex[c>>4])
					buf.WriteByte(hex[c&0xf])
				} else {
					buf.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteRune(utf8.RuneError)
		} else {
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// String returns s as JSON.stringify prints it.
func String(s string) json.RawMessage {
	var b bytes.Buffer
	WriteString(&b, s)
	return b.Bytes()
}

// Number formats f as JavaScript's Number.prototype.toString does
// (ECMA-262 Number::toString), which is what JSON.stringify prints.
// Infinities and NaN, which JSON cannot hold, print as null.
func Number(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "null"
	}
	if f == 0 {
		return "0" // including -0
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits d1d2...dk and exponent such that the
	// value is 0.d1...dk × 10^n.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		s = digits[:1]
		if k > 1 {
			s += "." + digits[1:]
		}
		if n-1 >= 0 {
			s += "e+" + strconv.Itoa(n-1)
		} else {
			s += "e-" + strconv.Itoa(1-n)
		}
	}
	return sign + s
}

// Date formats t as JavaScript's Date.prototype.toJSON does.
func Date(t time.Time) string {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("%+07d", y) + t.Format("-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// ParseDate reads a date as JavaScript's Date constructor reads the
// ISO-8601 forms: with or without fractional seconds and zone (a missing
// zone means UTC for date-only forms; for date-time forms JavaScript
// would use local time, which a server cannot know — UTC is assumed).
func ParseDate(s string) (time.Time, error) {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable date %q", s)
}

// Values returns a session's values as the members of a Node session
// object, in their order: a value equal to the one read (read holds the
// members the codec decoded; nil for a new session) keeps its bytes, and
// any other is printed as JSON.stringify prints it. A key that own
// reports as the format's own cannot be a session value. owner names the
// format in errors ("express", "koa", ...); room is how many more members
// the caller will append.
func Values(values []sessionkit.Value, read []Member, own func(key string) bool, owner string, room int) ([]Member, error) {
	out := make([]Member, 0, len(values)+room)
	for _, v := range values {
		if own(v.Key) {
			return nil, fmt.Errorf("%s: %q is the format's own key, not a session value", owner, v.Key)
		}
		raw := []byte(v.JSON)
		if i := Find(read, v.Key); i < 0 || !bytes.Equal(read[i].Raw, v.JSON) {
			var err error
			if raw, err = Stringify(v.JSON); err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", owner, v.Key, err)
			}
		}
		out = append(out, Member{Key: v.Key, Raw: raw})
	}
	return out, nil
}
