package boltstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/sessionkit/sessionkit"
)

// On-disk layout. Everything lives under one root bucket (by default
// "sessionkit") holding three buckets:
//
//	sessions: session key -> encoded record (see encodeRecord)
//	expiry:   be64(expiry ms, sign bit flipped) + session key -> empty
//	users:    uvarint(len(userKey)) + userKey + session key -> empty
//
// The expiry key sorts by expiry first, so a sweep is a cursor walk from
// the first key until the first key that has not expired. The users key is
// length-prefixed, so no user key can be a prefix of another user's entries
// whatever bytes it contains.
var (
	bucketSessions = []byte("sessions")
	bucketExpiry   = []byte("expiry")
	bucketUsers    = []byte("users")
)

// recordFormat is the first byte of every stored record, so the layout can
// change later without guessing.
const recordFormat = 1

// headerLen is format (1) + version (8) + expiry ms (8).
const headerLen = 1 + 8 + 8

var errCorrupt = errors.New("corrupt record")

// storedRecord is a decoded record plus its expiry in Unix milliseconds, the
// precision the store keeps.
type storedRecord struct {
	version  uint64
	expiryMs int64
	userKey  string
	data     []byte // aliases the bolt page unless copied
}

func encodeRecord(version uint64, expiryMs int64, userKey string, data []byte) []byte {
	buf := make([]byte, 0, headerLen+binary.MaxVarintLen64+len(userKey)+len(data))
	buf = append(buf, recordFormat)
	buf = binary.BigEndian.AppendUint64(buf, version)
	buf = binary.BigEndian.AppendUint64(buf, uint64(expiryMs))
	buf = binary.AppendUvarint(buf, uint64(len(userKey)))
	buf = append(buf, userKey...)
	buf = append(buf, data...)
	return buf
}

// decodeRecord parses v. The returned data aliases v.
func decodeRecord(v []byte) (storedRecord, error) {
	if len(v) < headerLen || v[0] != recordFormat {
		return storedRecord{}, errCorrupt
	}
	r := storedRecord{
		version:  binary.BigEndian.Uint64(v[1:9]),
		expiryMs: int64(binary.BigEndian.Uint64(v[9:17])),
	}
	rest := v[headerLen:]
	n, w := binary.Uvarint(rest)
	var canonical [binary.MaxVarintLen64]byte
	if w <= 0 || n > uint64(len(rest)-w) || binary.PutUvarint(canonical[:], n) != w {
		return storedRecord{}, errCorrupt
	}
	rest = rest[w:]
	r.userKey = string(rest[:n])
	r.data = rest[n:]
	return r, nil
}

// record converts r into a sessionkit.Record, copying the data out of the
// bolt page.
func (r storedRecord) record() sessionkit.Record {
	data := make([]byte, len(r.data))
	copy(data, r.data)
	return sessionkit.Record{
		Data:    data,
		Version: r.version,
		Expiry:  time.UnixMilli(r.expiryMs),
		UserKey: r.userKey,
	}
}

// live reports whether the record has not expired at nowMs. A record is
// gone from its expiry instant on.
func (r storedRecord) live(nowMs int64) bool { return nowMs < r.expiryMs }

// expiryKey builds the expiry index key. Flipping the sign bit makes the
// big-endian bytes of any int64 sort in numeric order.
func expiryKey(expiryMs int64, key string) []byte {
	buf := make([]byte, 0, 8+len(key))
	buf = binary.BigEndian.AppendUint64(buf, uint64(expiryMs)^(1<<63))
	return append(buf, key...)
}

// splitExpiryKey is the inverse of expiryKey.
func splitExpiryKey(k []byte) (expiryMs int64, key []byte, ok bool) {
	if len(k) < 8 {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63)), k[8:], true
}

// userPrefix is the users-bucket prefix shared by every session of userKey.
func userPrefix(userKey string) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(userKey))
	buf = binary.AppendUvarint(buf, uint64(len(userKey)))
	return append(buf, userKey...)
}

// userIndexKey builds the users-bucket key of one session of userKey.
func userIndexKey(userKey, key string) []byte {
	return append(userPrefix(userKey), key...)
}
