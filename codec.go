package sessionkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Value is one session value: a key and its JSON encoding.
type Value struct {
	Key  string
	JSON json.RawMessage
}

// State is a session's content as a Codec sees it.
type State struct {
	// Values in the order the codec gave them (new keys are appended).
	Values []Value
	// Created is when the session was first created; it fixes the
	// absolute deadline.
	Created time.Time
	// LastActive is when the session was last written.
	LastActive time.Time
	// Persistent reports whether the client keeps the session across
	// browser restarts (see Session.RememberMe).
	Persistent bool
	// IdleTimeout is this session's own idle lifetime (see
	// Session.SetIdleTimeout); zero means the Manager's IdleTimeout.
	// Codecs must keep it: it is part of the session.
	IdleTimeout time.Duration
	// Deadline is this session's own absolute deadline (see
	// Session.SetDeadline); zero means Created + Manager.Lifetime. Codecs
	// must keep it.
	Deadline time.Time
	// Expires is the expiry the record is being saved with. It is set by
	// the Manager before Encode, for codecs whose format records it; a
	// codec need not keep it.
	Expires time.Time
	// Opaque is whatever a codec wants to carry from Decode to the next
	// Encode of the same session (for example fields of a foreign format
	// it does not model). The Manager never looks at it, and may hand
	// one decoded Opaque to several requests' states (commits merged in
	// its queue), so Encode must not modify what it refers to.
	Opaque any
}

// Codec turns a session's State into the bytes a store keeps and back.
// Implementations must be safe for concurrent use. Decode must return an
// error, never panic, on any input, and must not modify data, which may be
// the store's own bytes (see Record); the State it returns may alias data.
// Encode may set fields of st but must
// not modify the bytes of its Values or what its Opaque refers to: states
// of several requests may share them.
//
// A format that records its own expiry in the data (koa-session's
// "_expire") may have Decode report a record that has expired by it with
// an error wrapping ErrNotFound: the Manager then treats it as no
// session, as it treats a record the store reports expired, without
// logging it as unreadable.
type Codec interface {
	Encode(st *State) ([]byte, error)
	Decode(data []byte) (State, error)
}

// JSONCodec is the default Codec. Records are compact JSON, readable with
// any tool:
//
//	{"created":1700000000000,"active":1700000300000,"persistent":true,"values":{"count":3}}
//
// A session with its own lifetime also has "idle" (its idle timeout in
// milliseconds) and "deadline" (its absolute deadline) before "values".
// Times are Unix milliseconds. Values keep their JSON bytes exactly; keys
// are ordered by name on decode. Unknown top-level fields are ignored.
type JSONCodec struct{}

// Decode implements Codec. Values alias data, which must not be modified
// afterwards.
func (JSONCodec) Decode(data []byte) (State, error) {
	rec, ok := scanCompactRecord(data)
	if !ok {
		var err error
		if rec, err = scanRecord(data); err != nil {
			return State{}, fmt.Errorf("sessionkit: decode record: %w", err)
		}
	}
	return rec.state()
}

// jsonRecord is a JSONCodec record as read, before its fields are
// checked and turned into a State.
type jsonRecord struct {
	created, active, idle, deadline int64
	persistent                      bool
	values                          []Value
}

// scanRecord reads any JSON record JSONCodec accepts: fields in any
// order, whitespace, escaped keys, unknown fields.
func scanRecord(data []byte) (jsonRecord, error) {
	var rec jsonRecord
	sc := scanner{data: data}
	err := sc.object(func(key []byte) error {
		switch string(key) {
		case `"created"`:
			return sc.int(&rec.created)
		case `"active"`:
			return sc.int(&rec.active)
		case `"persistent"`:
			return sc.bool(&rec.persistent)
		case `"idle"`:
			return sc.int(&rec.idle)
		case `"deadline"`:
			return sc.int(&rec.deadline)
		case `"values"`:
			rec.values = make([]Value, 0, 4)
			return sc.object(func(k []byte) error {
				raw, err := sc.value()
				if err != nil {
					return err
				}
				name, err := unquoteKey(k)
				if err != nil {
					return err
				}
				rec.values = append(rec.values, Value{Key: name, JSON: raw})
				return nil
			})
		default:
			_, err := sc.value()
			return err
		}
	})
	if err == nil && !sc.atEnd() {
		err = sc.errorf("trailing data")
	}
	if err != nil {
		return jsonRecord{}, err
	}
	return rec, nil
}

// scanCompactRecord reads a record laid out exactly as Encode writes it:
// no whitespace, the fields in Encode's order, value keys of plain ASCII
// without escapes. For anything else it reports false, and Decode takes
// scanRecord, the general path. Wherever this one answers, the two give
// the same record (FuzzCompactRecord); it only skips the general path's
// per-field dispatch, which is most of the cost of reading a session.
func scanCompactRecord(data []byte) (rec jsonRecord, ok bool) {
	sc := scanner{data: data}
	if !sc.literal(`{"created":`) || !sc.fastInt(&rec.created) ||
		!sc.literal(`,"active":`) || !sc.fastInt(&rec.active) {
		return jsonRecord{}, false
	}
	rec.persistent = sc.literal(`,"persistent":true`)
	if sc.literal(`,"idle":`) && !sc.fastInt(&rec.idle) {
		return jsonRecord{}, false
	}
	if sc.literal(`,"deadline":`) && !sc.fastInt(&rec.deadline) {
		return jsonRecord{}, false
	}
	if !sc.literal(`,"values":{`) {
		return jsonRecord{}, false
	}
	rec.values = make([]Value, 0, 4)
	if !sc.literal("}") {
		for {
			key, ok := sc.plainKey()
			if !ok {
				return jsonRecord{}, false
			}
			raw, err := sc.value()
			if err != nil {
				return jsonRecord{}, false
			}
			rec.values = append(rec.values, Value{Key: key, JSON: raw})
			if sc.literal("}") {
				break
			}
			if !sc.literal(",") {
				return jsonRecord{}, false
			}
		}
	}
	if !sc.literal("}") || sc.pos != len(data) {
		return jsonRecord{}, false
	}
	return rec, true
}

// state checks a record's fields and turns them into a State.
func (rec jsonRecord) state() (State, error) {
	if rec.idle < 0 {
		return State{}, fmt.Errorf("sessionkit: decode record: negative idle timeout %d", rec.idle)
	}
	st := State{
		Values:      rec.values,
		Created:     time.UnixMilli(rec.created),
		LastActive:  time.UnixMilli(rec.active),
		Persistent:  rec.persistent,
		IdleTimeout: time.Duration(min(rec.idle, maxIdleMillis)) * time.Millisecond,
	}
	if rec.deadline != 0 {
		st.Deadline = time.UnixMilli(rec.deadline)
	}
	sortValues(st.Values)
	for i := 1; i < len(st.Values); i++ {
		if st.Values[i].Key == st.Values[i-1].Key {
			return State{}, fmt.Errorf("sessionkit: decode record: duplicate key %q", st.Values[i].Key)
		}
	}
	return st, nil
}

// Encode implements Codec.
func (JSONCodec) Encode(st *State) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(64 + 32*len(st.Values))
	buf.WriteString(`{"created":`)
	buf.WriteString(strconv.FormatInt(st.Created.UnixMilli(), 10))
	buf.WriteString(`,"active":`)
	buf.WriteString(strconv.FormatInt(st.LastActive.UnixMilli(), 10))
	if st.Persistent {
		buf.WriteString(`,"persistent":true`)
	}
	if st.IdleTimeout > 0 {
		buf.WriteString(`,"idle":`)
		buf.WriteString(strconv.FormatInt(st.IdleTimeout.Milliseconds(), 10))
	}
	if !st.Deadline.IsZero() {
		buf.WriteString(`,"deadline":`)
		buf.WriteString(strconv.FormatInt(st.Deadline.UnixMilli(), 10))
	}
	buf.WriteString(`,"values":{`)
	for i, v := range st.Values {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeJSONString(&buf, v.Key); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if !json.Valid(v.JSON) {
			return nil, fmt.Errorf("sessionkit: value %q is not valid JSON", v.Key)
		}
		buf.Write(v.JSON)
	}
	buf.WriteString("}}")
	return buf.Bytes(), nil
}

// maxIdleMillis caps a decoded idle timeout so that it fits a
// time.Duration (about 292 years).
const maxIdleMillis = int64(1<<63-1) / int64(time.Millisecond)

func sortValues(vs []Value) {
	// Insertion sort: sessions hold few keys, and this avoids an
	// allocation that sort.Slice would make.
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Key < vs[j-1].Key; j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

// marshalValue encodes v as JSON without HTML escaping, so that values read
// the same in other languages' stores (JavaScript's JSON.stringify does not
// escape <, > and &).
func marshalValue(v any) (json.RawMessage, error) {
	if raw, ok := marshalBasic(v); ok {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// marshalBasic encodes the commonest value types exactly as marshalValue's
// encoding/json does (TestMarshalBasicLikeEncodingJSON), without
// reflection or an Encoder; it reports false for anything else.
func marshalBasic(v any) (json.RawMessage, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(make([]byte, 0, 8), int64(x), 10), true
	case int64:
		return strconv.AppendInt(make([]byte, 0, 8), x, 10), true
	case bool:
		return strconv.AppendBool(make([]byte, 0, 5), x), true
	case string:
		if plainJSONString(x) {
			b := make([]byte, 0, len(x)+2)
			return append(append(append(b, '"'), x...), '"'), true
		}
	}
	return nil, false
}

// plainJSONString reports whether s is printable ASCII without a quote or
// backslash, which encoding/json writes between quotes as it is.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func writeJSONString(buf *bytes.Buffer, s string) error {
	if plainJSONString(s) {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return nil
	}
	b, err := marshalValue(s)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// decodeBasic decodes the commonest value types without reflection. It
// reports false when it did not handle dst, leaving it to encoding/json.
func decodeBasic(raw json.RawMessage, dst any) bool {
	switch p := dst.(type) {
	case *int:
		if n, ok := smallInt(raw); ok {
			*p = int(n)
			return true
		}
		n, err := strconv.ParseInt(string(raw), 10, strconv.IntSize)
		*p = int(n)
		return err == nil
	case *int64:
		if n, ok := smallInt(raw); ok {
			*p = n
			return true
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		*p = n
		return err == nil
	case *bool:
		switch string(raw) {
		case "true":
			*p = true
			return true
		case "false":
			*p = false
			return true
		}
	case *string:
		if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
			body := raw[1 : len(raw)-1]
			for _, c := range body {
				if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
					return false // escapes or non-ASCII: let encoding/json validate
				}
			}
			*p = string(body)
			return true
		}
	}
	return false
}

// smallInt parses an optional minus sign and 1 to 9 decimal digits, which
// fit every int, without strconv's generality; it reports false for
// anything else, which strconv.ParseInt then handles.
func smallInt(raw []byte) (int64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	if len(digits) < len(raw) {
		n = -n
	}
	return n, true
}
