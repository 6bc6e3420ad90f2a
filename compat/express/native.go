package express

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// This file turns express-session sessions into native ones: the state a
// native Manager (sessionkit.JSONCodec, hashed keys, per-user index) keeps,
// for Migrator and Importer.

// migratedKeyPrefix is what MigratedKey hashes before the express ID. No
// native session ID contains ':', so no native cookie names a migrated
// copy.
const migratedKeyPrefix = "express-session:"

// MigratedKey returns the key under which a migration (Migrator, the
// sessionkit command's migrate) keeps, in the native store, its copy of
// the express-session session with ID id:
//
//	base64url(SHA-256("express-session:" + id))
//
// It has the form of a native key (a hashed ID: a copy of the store holds
// no express ID), but no native session ID hashes to it, so a native
// cookie never reaches the copy: only an Importer finds it, from a cookie
// signed with the express secrets.
func MigratedKey(id string) string {
	sum := sha256.Sum256([]byte(migratedKeyPrefix + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// migratedField is the top-level member a migrated copy carries beside
// sessionkit.JSONCodec's: the version (sourceVersion) of the express
// record it was copied from. JSONCodec ignores it; Migrator reads it to
// tell a copy from a native session and an up-to-date copy from a stale
// one.
const migratedField = "express"

// sourceVersion identifies an express record's content: the first 8 bytes
// of its SHA-256, in hex.
func sourceVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// markMigrated adds the migratedField member to a JSONCodec record.
func markMigrated(data []byte, source string) ([]byte, error) {
	data = bytes.TrimRight(data, " \t\r\n")
	if len(data) < 2 || data[len(data)-1] != '}' {
		return nil, fmt.Errorf("express: native record is not a JSON object")
	}
	out := make([]byte, 0, len(data)+len(source)+16)
	out = append(out, data[:len(data)-1]...)
	if len(data) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"`+migratedField+`":"`...)
	out = append(out, source...)
	out = append(out, `"}`...)
	return out, nil
}

// migratedSource returns the source version a migrated copy carries, and
// false for a record that is not a migrated copy.
func migratedSource(data []byte) (string, bool) {
	if !bytes.Contains(data, []byte(`"`+migratedField+`"`)) {
		return "", false // the cheap answer for native sessions
	}
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return "", false
	}
	i := jsjson.Find(ms, migratedField)
	if i < 0 {
		return "", false
	}
	var s string
	if err := json.Unmarshal(ms[i].Raw, &s); err != nil || s == "" {
		return "", false
	}
	return s, true
}

// nativeState returns the state of the native session an express-session
// record becomes, and its owner.
//
// The values are the record's, without express-session's cookie object;
// Passport's user (passport.user) moves to field, the native auth
// package's user value, as a string key (auth.KeyFromJSON: 42 becomes
// "42"), and the passport object goes when nothing else is left in it.
// The owner is that key, or, in a record without a Passport user, a
// non-empty string already held in field.
//
// The session keeps its idle timeout and persistence (the cookie's
// originalMaxAge and expires; ttl for a browser-session cookie, as the
// Node store keeps it), and is created at now: express-session records
// carry no creation time, so a native absolute deadline counts from the
// moment the session becomes native.
//
// A record whose cookie object lacks originalMaxAge, which express-session
// always writes (null for a browser-session cookie), is not
// express-session's: koa-generic-session's, for one, has a cookie object
// with maxAge instead, under a cookie no Importer reads.
func nativeState(data []byte, ttl time.Duration, field auth.ValueField, now time.Time) (sessionkit.State, string, error) {
	c := &Codec{TTL: ttl, Now: func() time.Time { return now }}
	st, err := c.Decode(data)
	if err != nil {
		return sessionkit.State{}, "", err
	}
	if op, ok := st.Opaque.(*opaque); !ok || jsjson.Find(op.cookie, "originalMaxAge") < 0 {
		return sessionkit.State{}, "", fmt.Errorf("express: %w: the cookie object has no originalMaxAge", errNotExpress)
	}
	st.Opaque = nil
	st.Created = now
	st.Expires = time.Time{}
	if field == "" {
		field = auth.DefaultUserKeyField
	}
	owner := ""
	values := make([]sessionkit.Value, 0, len(st.Values))
	fieldAt := -1
	for _, v := range st.Values {
		switch v.Key {
		case "passport":
			key, ok, err := passportUser(v.JSON)
			if err != nil {
				return sessionkit.State{}, "", err
			}
			if ok {
				owner = key
			}
			if rest, keep := withoutUser(v.JSON); keep {
				values = append(values, sessionkit.Value{Key: v.Key, JSON: rest})
			}
			continue
		case string(field):
			fieldAt = len(values)
		}
		values = append(values, v)
	}
	if owner == "" && fieldAt >= 0 {
		var s string
		if json.Unmarshal(values[fieldAt].JSON, &s) == nil {
			owner = s
		}
	}
	if owner != "" {
		raw, _ := json.Marshal(owner) // a string always marshals
		if fieldAt >= 0 {
			values[fieldAt].JSON = raw
		} else {
			values = append(values, sessionkit.Value{Key: string(field), JSON: raw})
		}
	}
	st.Values = values
	return st, owner, nil
}

// withoutUser returns a passport object without its user, and whether
// anything is left worth keeping. A value that is not an object is kept
// as it is.
func withoutUser(raw json.RawMessage) (json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return raw, true
	}
	ms, err := jsjson.ParseObject(t)
	if err != nil {
		return raw, true
	}
	if i := jsjson.Find(ms, "user"); i >= 0 {
		ms = append(ms[:i], ms[i+1:]...)
	}
	if len(ms) == 0 {
		return nil, false
	}
	var buf bytes.Buffer
	jsjson.WriteObject(&buf, ms)
	return buf.Bytes(), true
}

// migratedRecord is the native record a migration writes for an express
// record: st encoded by sessionkit.JSONCodec, marked with the source's
// version.
func migratedRecord(st *sessionkit.State, source string) ([]byte, error) {
	data, err := sessionkit.JSONCodec{}.Encode(st)
	if err != nil {
		return nil, err
	}
	return markMigrated(data, source)
}
