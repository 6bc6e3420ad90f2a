package boltstore

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder, as a
// damaged file could: it must never panic, and whatever it accepts must
// encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(1, 0, "", nil))
	f.Add(encodeRecord(7, -62135596800000, "user", []byte(`{"n":1}`)))
	f.Add([]byte{recordFormat})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord(v)
		if err != nil {
			return
		}
		if again := encodeRecord(r.version, r.expiryMs, r.userKey, r.data); !bytes.Equal(again, v) {
			t.Fatalf("decode/encode changed %x into %x", v, again)
		}
	})
}
