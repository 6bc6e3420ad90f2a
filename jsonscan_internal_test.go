package sessionkit

import (
	"strconv"
	"testing"
)

// FuzzScannerInt: the integer fast path accepts exactly what the general
// path (a validated JSON value, then strconv.ParseInt) accepts among the
// inputs it takes, with the same value and position, and leaves
// everything else to it untouched.
func FuzzScannerInt(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "1700000000000", "-1", "00", "01", "-", "--1", "1.5", "1e3", "1E3",
		"123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808",
		" 42}", "\t7,", "12x", "", "+1", "0x10", "-9223372036854775808",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast := scanner{data: data}
		var got int64
		if !fast.fastInt(&got) {
			if fast.pos != 0 && fast.pos != leadingSpace(data) {
				t.Fatalf("declined %q but moved to %d", data, fast.pos)
			}
			return
		}
		slow := scanner{data: data}
		raw, err := slow.value()
		if err != nil {
			t.Fatalf("fast path took %q (= %d), general path refuses it: %v", data, got, err)
		}
		want, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || want != got || slow.pos != fast.pos {
			t.Fatalf("%q: fast %d at %d, general %d (%v) at %d", data, got, fast.pos, want, err, slow.pos)
		}
	})
}

func leadingSpace(data []byte) int {
	s := scanner{data: data}
	s.skipSpace()
	return s.pos
}

// FuzzSmallInt: smallInt agrees with strconv.ParseInt on every input it
// accepts, and accepts every optional sign and 1 to 9 digits.
func FuzzSmallInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-1", "123456789", "1234567890", "-999999999", "007", "-", "", "+1", "1a", " 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := smallInt(raw)
		want, err := strconv.ParseInt(string(raw), 10, 32)
		if ok && (err != nil || got != want) {
			t.Fatalf("smallInt(%q) = %d, ParseInt = %d, %v", raw, got, want, err)
		}
		digits := raw
		if len(digits) > 0 && digits[0] == '-' {
			digits = digits[1:]
		}
		plain := len(digits) >= 1 && len(digits) <= 9
		for _, c := range digits {
			plain = plain && c >= '0' && c <= '9'
		}
		if plain != ok {
			t.Fatalf("smallInt(%q) ok = %v, want %v", raw, ok, plain)
		}
	})
}
