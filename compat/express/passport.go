package express

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// PassportField is an auth.UserKeyField that keeps the user key where
// Passport keeps the serialized user: req.session.passport.user. With it,
// auth.Auth.User on the Go side returns the user Passport logged in, and a
// Go login is seen by req.user on the Node side.
//
// As in Passport, any JSON value counts as a user except null, false and
// "" (0 is a user). The value is turned into Auth's string key with
// auth.KeyFromJSON (42 → "42", "abc" → "abc", {"id":1} → `{"id":1}`), and
// written back with Encode. Clear removes only the user, leaving
// "passport":{} as Passport does when it cannot deserialize a user.
type PassportField struct {
	// Key is the session value Passport uses (default "passport", the
	// key option of passport.initialize).
	Key string
	// Encode turns Auth's key into the JSON value stored at
	// passport.user. Default auth.KeyToJSON, which writes keys that look
	// like JSON numbers, objects or true as such and others as strings;
	// an application whose Passport serializeUser returns numeric IDs as
	// strings uses a function that always writes a string.
	Encode func(key string) json.RawMessage
}

var _ auth.UserKeyField = PassportField{}

func (f PassportField) key() string {
	if f.Key != "" {
		return f.Key
	}
	return "passport"
}

// Read implements auth.UserKeyField.
func (f PassportField) Read(s *sessionkit.Session) (string, bool, error) {
	if err := s.Err(); err != nil {
		return "", false, err
	}
	raw, err := sessionkit.Get[json.RawMessage](s, f.key())
	if err != nil || raw == nil {
		return "", false, err
	}
	return passportUser(raw)
}

// passportUser returns the user key in a passport object as Passport sees
// it: absent, null, false and "" are no user.
func passportUser(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return "", false, nil // not an object: Passport finds no .user
	}
	ms, err := jsjson.ParseObject(raw)
	if err != nil {
		return "", false, fmt.Errorf("express: passport: %w", err)
	}
	i := jsjson.Find(ms, "user")
	if i < 0 {
		return "", false, nil
	}
	u := bytes.TrimSpace(ms[i].Raw)
	switch string(u) {
	case "null", "false", `""`:
		return "", false, nil
	}
	key, err := auth.KeyFromJSON(u)
	if err != nil {
		return "", false, fmt.Errorf("express: passport.user: %w", err)
	}
	return key, true, nil
}

// Write implements auth.UserKeyField. Other members of the passport
// object are kept.
func (f PassportField) Write(s *sessionkit.Session, key string) error {
	enc := f.Encode
	if enc == nil {
		enc = auth.KeyToJSON
	}
	return f.update(s, func(ms []jsjson.Member) []jsjson.Member {
		u := enc(key)
		if i := jsjson.Find(ms, "user"); i >= 0 {
			ms[i].Raw = u
			return ms
		}
		return append(ms, jsjson.Member{Key: "user", Raw: u})
	})
}

// Clear implements auth.UserKeyField.
func (f PassportField) Clear(s *sessionkit.Session) error {
	if err := s.Err(); err != nil {
		return err
	}
	if !s.Has(f.key()) {
		return nil
	}
	return f.update(s, func(ms []jsjson.Member) []jsjson.Member {
		if i := jsjson.Find(ms, "user"); i >= 0 {
			ms = append(ms[:i], ms[i+1:]...)
		}
		return ms
	})
}

func (f PassportField) update(s *sessionkit.Session, change func([]jsjson.Member) []jsjson.Member) error {
	raw, err := sessionkit.Get[json.RawMessage](s, f.key())
	if err != nil {
		return err
	}
	var ms []jsjson.Member
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		if ms, err = jsjson.ParseObject(t); err != nil {
			ms = nil // unreadable: replace it, as Passport would overwrite .user
		}
	}
	ms = change(ms)
	var buf bytes.Buffer
	jsjson.WriteObject(&buf, ms)
	return s.Set(f.key(), json.RawMessage(buf.Bytes()))
}

// UserKey returns the Passport user key held by an express-session record
// (the key Auth would read through PassportField{}), or "" when it holds
// none or cannot be read. Stores with an express layout use it to fill
// Record.UserKey on load, so that the Go side does not rewrite every
// logged-in session to record its owner (see the store packages'
// Options.UserKeyOf).
func UserKey(data []byte) string {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return ""
	}
	i := jsjson.Find(ms, "passport")
	if i < 0 {
		return ""
	}
	key, ok, err := passportUser(ms[i].Raw)
	if err != nil || !ok {
		return ""
	}
	return key
}

// UsePassport makes a behave as Passport 0.7 does at login: the user key
// is kept at passport.user (PassportField{}), and Login keeps none of the
// session's other values (Passport's keepSessionInfo: false).
func UsePassport[U any](a *auth.Auth[U]) {
	a.Field = PassportField{}
	a.ClearOnLogin = true
}
