package sessionkit

import (
	"bytes"
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
	for end := min(len(data), start+18); i < end; i++ {
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
