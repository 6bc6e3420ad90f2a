package sessionkit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// scanner is a small allocation-free JSON reader for the records this
// package writes. It walks objects key by key and returns values as
// sub-slices of the input, validating them as it goes. It never panics on
// malformed input.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

const maxJSONDepth = 64

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) atEnd() bool {
	s.skipSpace()
	return s.pos == len(s.data)
}

func (s *scanner) peek() byte {
	s.skipSpace()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.errorf("expected %q", c)
	}
	s.pos++
	return nil
}

// literal consumes lit if the input continues with exactly it, with no
// whitespace before it, and reports whether it did.
func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return false
	}
	s.pos += len(lit)
	return true
}

// plainKey reads an object key and its colon, `"name":`, where name is
// printable ASCII without a quote or backslash, so that its bytes are
// its value. It reports false, with the position undefined, for any
// other key.
func (s *scanner) plainKey() (string, bool) {
	if !s.literal(`"`) {
		return "", false
	}
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			break
		}
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return "", false
		}
		s.pos++
	}
	key := s.data[start:s.pos]
	if !s.literal(`":`) {
		return "", false
	}
	return string(key), true
}

// object reads an object, calling field with each raw (still quoted) key;
// field must consume the value.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.errorf("expected a key")
		}
		start := s.pos
		if err := s.skipString(); err != nil {
			return err
		}
		key := s.data[start:s.pos]
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("expected ',' or '}'")
		}
	}
}

// value skips one JSON value and returns its bytes.
func (s *scanner) value() (json.RawMessage, error) {
	s.skipSpace()
	start := s.pos
	if err := s.skipValue(); err != nil {
		return nil, err
	}
	return s.data[start:s.pos:s.pos], nil
}

func (s *scanner) skipValue() error {
	switch c := s.peek(); {
	case c == '"':
		return s.skipString()
	case c == '{':
		if s.depth++; s.depth > maxJSONDepth {
			return s.errorf("nested too deeply")
		}
		err := s.object(func([]byte) error { return s.skipValue() })
		s.depth--
		return err
	case c == '[':
		if s.depth++; s.depth > maxJSONDepth {
			return s.errorf("nested too deeply")
		}
		defer func() { s.depth-- }()
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skipValue(); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.errorf("expected ',' or ']'")
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.skipNumber()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
				s.pos += len(lit)
				return nil
			}
		}
		return s.errorf("unexpected character")
	}
}

func (s *scanner) skipString() error {
	s.pos++ // opening quote
	// Plain characters first, without the general loop's cases.
	data, i := s.data, s.pos
	for i < len(data) {
		if c := data[i]; c == '"' || c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	s.pos = i
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				return s.errorf("truncated escape")
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) {
					return s.errorf("truncated escape")
				}
				for _, h := range s.data[s.pos+2 : s.pos+6] {
					if !isHex(h) {
						return s.errorf("bad \\u escape")
					}
				}
				s.pos += 6
			default:
				return s.errorf("bad escape")
			}
		case c < 0x20:
			return s.errorf("control character in string")
		default:
			s.pos++
		}
	}
	return s.errorf("unterminated string")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) skipNumber() error {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	intStart := s.pos
	if n := digits(); n == 0 || (n > 1 && s.data[intStart] == '0') {
		s.pos = start
		return s.errorf("bad number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return s.errorf("bad number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.errorf("bad number")
		}
	}
	return nil
}

func (s *scanner) int(dst *int64) error {
	if s.fastInt(dst) {
		return nil
	}
	raw, err := s.value()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return s.errorf("expected an integer")
	}
	*dst = n
	return nil
}

// fastInt reads the commonest integers (at most 18 digits, so no
// overflow) without a copy, accepting exactly what int's general path
// accepts for them. It reports false, consuming nothing, for anything
// else: int then takes the general path.
func (s *scanner) fastInt(dst *int64) bool {
	s.skipSpace()
	data, i := s.data, s.pos
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	end := min(len(data), start+18)
	// Eight digits at a time while they last, then four, then one at a
	// time: a Unix-millisecond time has thirteen.
	for ; i+8 <= end; i += 8 {
		v, ok := eightDigits(data[i:])
		if !ok {
			break
		}
		n = n*100000000 + int64(v)
	}
	if i+4 <= end {
		if v, ok := fourDigits(data[i:]); ok {
			n = n*10000 + int64(v)
			i += 4
		}
	}
	for ; i < end; i++ {
		d := data[i] - '0'
		if d > 9 {
			break
		}
		n = n*10 + int64(d)
	}
	digits := i - start
	if digits == 0 || (digits > 1 && data[start] == '0') {
		return false
	}
	if i < len(data) {
		if c := data[i]; c-'0' <= 9 || c == '.' || c == 'e' || c == 'E' {
			return false // longer, a fraction or an exponent
		}
	}
	if neg {
		n = -n
	}
	s.pos = i
	*dst = n
	return true
}

// eightDigits reads b[:8] as a decimal number if all eight bytes are
// ASCII digits, in a few word operations instead of a loop.
func eightDigits(b []byte) (uint64, bool) {
	v := binary.LittleEndian.Uint64(b)
	// A digit is 0x30–0x39: high nibble 3, and adding 6 leaves it 3.
	if v&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 ||
		(v+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 {
		return 0, false
	}
	v -= 0x3030303030303030
	// Little-endian: the first digit is the lowest byte. Combine
	// neighbouring digits into 2-digit, then 4-digit, then the 8-digit value.
	v = v*10 + v>>8
	v = (v&0x000000FF000000FF)*(100+1000000<<32) + (v>>16&0x000000FF000000FF)*(1+10000<<32)
	return v >> 32, true
}

// fourDigits is eightDigits for b[:4].
func fourDigits(b []byte) (uint32, bool) {
	v := binary.LittleEndian.Uint32(b)
	if v&0xF0F0F0F0 != 0x30303030 || (v+0x06060606)&0xF0F0F0F0 != 0x30303030 {
		return 0, false
	}
	v -= 0x30303030
	v = v*10 + v>>8                          // bytes 0 and 2: two 2-digit values
	return (v&0xFF)*100 + (v>>16)&0xFF, true // (v&0xFF) is the first pair
}

func (s *scanner) bool(dst *bool) error {
	raw, err := s.value()
	if err != nil {
		return err
	}
	switch string(raw) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return s.errorf("expected a boolean")
	}
	return nil
}

// unquoteKey turns a quoted JSON string into a Go string.
func unquoteKey(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 && utf8.Valid(quoted) {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var k string
	if err := json.Unmarshal(quoted, &k); err != nil {
		return "", errors.New("bad key")
	}
	return k, nil
}
