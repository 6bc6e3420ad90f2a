package auth

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sessionkit/sessionkit"
)

// UserKeyField says where in a session the logged-in user's key lives and
// how it is encoded there. Auth reads it on every authenticated request,
// writes it at Login, and clears it at Logout and when Deserialize reports
// that the user no longer exists.
//
// The default, DefaultUserKeyField, keeps the key as a JSON string under
// "_user". Layouts shared with other software supply their own: the
// express compatibility layer keeps Passport's passport.user, whose value
// may be any JSON (a number such as 42, an object); KeyFromJSON and
// KeyToJSON convert between such values and Auth's string keys.
//
// Implementations must not touch the session's Record.UserKey (Auth keeps
// it in step through Session.SetUserKey) and must be safe for concurrent
// use.
type UserKeyField interface {
	// Read returns the user key s holds; ok is false when it holds none.
	// An error means the value is present but unreadable; Auth then
	// treats the request as logged out and clears the field.
	Read(s *sessionkit.Session) (key string, ok bool, err error)
	// Write makes s hold key.
	Write(s *sessionkit.Session, key string) error
	// Clear removes the user key from s.
	Clear(s *sessionkit.Session) error
}

// ValueField is a UserKeyField that keeps the key as a JSON string under
// one session value.
type ValueField string

// DefaultUserKeyField keeps the user key under the reserved session value
// "_user".
const DefaultUserKeyField ValueField = "_user"

// Read implements UserKeyField. An empty string counts as no user.
func (f ValueField) Read(s *sessionkit.Session) (string, bool, error) {
	if err := s.Err(); err != nil {
		return "", false, err
	}
	if !s.Has(string(f)) {
		return "", false, nil
	}
	key, err := sessionkit.Get[string](s, string(f))
	if err != nil {
		return "", false, err
	}
	return key, key != "", nil
}

// Write implements UserKeyField.
func (f ValueField) Write(s *sessionkit.Session, key string) error {
	return s.Set(string(f), key)
}

// Clear implements UserKeyField.
func (f ValueField) Clear(s *sessionkit.Session) error {
	if err := s.Err(); err != nil {
		return err
	}
	s.Delete(string(f))
	return nil
}

// KeyFromJSON turns a JSON user key into Auth's string form: a JSON string
// yields its content, any other value its compact JSON text (42 → "42",
// {"id":1} → `{"id":1}`). It does not decide truthiness: a field that
// follows Passport treats "", false and null as "no user" before calling
// it.
func KeyFromJSON(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("auth: user key: %w", err)
		}
		return s, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("auth: user key: %w", err)
	}
	return buf.String(), nil
}

// KeyToJSON is the inverse of KeyFromJSON for fields that keep non-string
// keys: a key that is the JSON text of a number, object, array or true is
// written as that value, anything else as a JSON string. Fields whose keys
// are always strings should just encode the string.
func KeyToJSON(key string) json.RawMessage {
	b := []byte(key)
	if len(b) > 0 && b[0] != '"' && b[0] != ' ' && key != "null" && key != "false" && json.Valid(b) {
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil && buf.Len() == len(b) {
			return buf.Bytes()
		}
	}
	out, _ := json.Marshal(key) // a string always marshals
	return out
}
