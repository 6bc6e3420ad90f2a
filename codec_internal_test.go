package sessionkit

import (
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"testing"
	"time"
)

// FuzzCompactRecord: wherever the compact fast path reads a record, the
// general path reads the same one from it; what the fast path declines,
// Decode still reads through the general path.
func FuzzCompactRecord(f *testing.F) {
	for _, s := range []string{
		`{"created":1700000000000,"active":1700000300000,"values":{}}`,
		`{"created":1700000000000,"active":1700000300000,"persistent":true,"idle":604800000,"deadline":1702592000000,"values":{"a":1,"b":"x","c":[1,{"d":null}]}}`,
		`{"created":1,"active":2,"values":{"n": 1}}`,
		`{"created":1,"active":2,"values":{"n":1 }}`,
		`{"created":1,"active":2,"values":{"a":1,"a":2}}`,
		`{"created":1,"active":2,"idle":-1,"values":{}}`,
		`{"created":1,"active":2,"values":{"k\u00e9":1}}`,
		`{"created":1,"active":2,"values":{"kë":1}}`,
		`{"created":1,"active":2,"persistent":truex,"values":{}}`,
		`{"created":1,"active":2,"values":{}} `,
		`{"created":1,"active":2,"values":{},"extra":1}`,
		`{"created":1.5,"active":2,"values":{}}`,
		`{"created":1,"active":2,"values":{"a":1,}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := scanCompactRecord(data)
		if !ok {
			return
		}
		general, err := scanRecord(data)
		if err != nil {
			t.Fatalf("fast path read %q, general path refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q:\nfast    %+v\ngeneral %+v", data, fast, general)
		}
	})
}

// TestEncodeTakesCompactPath: every record Encode writes is read by the
// fast path, so the common read never takes the general one.
func TestEncodeTakesCompactPath(t *testing.T) {
	created := time.UnixMilli(1700000000000)
	for _, tc := range []struct {
		name string
		st   State
	}{
		{"empty", State{Created: created, LastActive: created}},
		{"one value", State{Created: created, LastActive: created, Values: []Value{{Key: "n", JSON: []byte("1")}}}},
		{"every field", State{
			Created: created, LastActive: created.Add(time.Minute), Persistent: true,
			IdleTimeout: time.Hour, Deadline: created.Add(24 * time.Hour),
			Values: []Value{{Key: "a", JSON: []byte(`{"x":[1,2]}`)}, {Key: "b", JSON: []byte(`"s"`)}, {Key: "c", JSON: []byte("null")}},
		}},
		{"negative times", State{Created: time.UnixMilli(-5), LastActive: time.UnixMilli(-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := JSONCodec{}.Encode(&tc.st)
			if err != nil {
				t.Fatal(err)
			}
			fast, ok := scanCompactRecord(data)
			if !ok {
				t.Fatalf("fast path declined Encode's own record %s", data)
			}
			general, err := scanRecord(data)
			if err != nil || !reflect.DeepEqual(fast, general) {
				t.Fatalf("%s: fast %+v, general %+v (%v)", data, fast, general, err)
			}
			st, err := fast.state()
			if err != nil {
				t.Fatal(err)
			}
			if !st.Created.Equal(tc.st.Created) || !st.LastActive.Equal(tc.st.LastActive) || st.Persistent != tc.st.Persistent ||
				st.IdleTimeout != tc.st.IdleTimeout || !st.Deadline.Equal(tc.st.Deadline) || len(st.Values) != len(tc.st.Values) {
				t.Fatalf("decoded %+v, encoded %+v", st, tc.st)
			}
		})
	}
}

// TestEncodeSum: the SHA-256 sum encoder writes what
// base64.RawURLEncoding writes, for every bit position set and cleared.
func TestEncodeSum(t *testing.T) {
	var sums [][32]byte
	var ones [32]byte
	for i := range ones {
		ones[i] = 0xFF
	}
	sums = append(sums, [32]byte{}, ones)
	for bit := range 256 {
		one, zero := [32]byte{}, ones
		one[bit/8] |= 1 << (bit % 8)
		zero[bit/8] &^= 1 << (bit % 8)
		sums = append(sums, one, zero)
	}
	for i := range 64 {
		sums = append(sums, sha256.Sum256([]byte{byte(i)}))
	}
	for _, sum := range sums {
		got := encodeSum(&sum)
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); string(got[:]) != want {
			t.Fatalf("encodeSum(%x) = %s, want %s", sum, got, want)
		}
	}
}
