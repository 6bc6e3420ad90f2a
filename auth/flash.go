package auth

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sessionkit/sessionkit"
)

// FlashKey is the session value that holds flash messages. It is where
// connect-flash keeps them (req.session.flash), in the same layout — an
// object from kind to a list of messages, {"error":["Wrong password."]} —
// so a Node app sharing the session (compat/express) and Go see each
// other's flashes.
const FlashKey = "flash"

// Flash kinds the authenticate handler uses. Applications may use any
// other kind as well.
const (
	FlashError   = "error"
	FlashSuccess = "success"
	FlashInfo    = "info"
)

// Flash is one flash message: a one-time message for the next page the
// user sees ("Signed out.", "Wrong password.").
type Flash struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// AddFlash appends a message of the given kind to the session's flash
// messages: connect-flash's req.flash(kind, message), gorilla/sessions'
// AddFlash. The messages are kept until Flashes reads them. A nil session
// is an error wrapping sessionkit.ErrNoSession.
func AddFlash(s *sessionkit.Session, kind, message string) error {
	if s == nil {
		return fmt.Errorf("auth: add flash: %w", sessionkit.ErrNoSession)
	}
	// An Update, so that messages added by concurrent requests are all
	// kept.
	_, err := sessionkit.Update(s, FlashKey, func(raw json.RawMessage) (json.RawMessage, error) {
		all, err := parseFlashes(raw)
		if err != nil {
			// An unreadable flash value is dropped rather than kept in the way.
			all = nil
		}
		for i := range all {
			if all[i].kind == kind {
				all[i].messages = append(all[i].messages, message)
				return encodeFlashes(all)
			}
		}
		return encodeFlashes(append(all, flashKind{kind, []string{message}}))
	})
	return err
}

// Flashes returns and removes the session's flash messages of the given
// kinds, or all of them when no kind is given: connect-flash's
// req.flash(kind) and req.flash(). Messages come kind by kind, in the order
// the kinds were first added (or the order asked for), each kind's in the
// order they were added. A session without messages (or no session) yields
// none and no error; an unreadable flash value is removed and reported.
func Flashes(s *sessionkit.Session, kinds ...string) ([]Flash, error) {
	if s == nil || s.Err() != nil || !s.Has(FlashKey) {
		return nil, nil
	}
	all, err := readFlashes(s)
	if err != nil {
		s.Delete(FlashKey)
		return nil, err
	}
	var out []Flash
	take := func(fk flashKind) {
		for _, m := range fk.messages {
			out = append(out, Flash{Kind: fk.kind, Message: m})
		}
	}
	if len(kinds) == 0 {
		for _, fk := range all {
			take(fk)
		}
		s.Delete(FlashKey)
		return out, nil
	}
	for _, k := range kinds {
		for i, fk := range all {
			if fk.kind == k {
				take(fk)
				all = append(all[:i], all[i+1:]...)
				break
			}
		}
	}
	if len(all) == 0 {
		s.Delete(FlashKey)
		return out, nil
	}
	return out, writeFlashes(s, all)
}

type flashKind struct {
	kind     string
	messages []string
}

// readFlashes decodes the session's flash object keeping the order of its
// kinds.
func readFlashes(s *sessionkit.Session) ([]flashKind, error) {
	raw, err := sessionkit.Get[json.RawMessage](s, FlashKey)
	if err != nil {
		return nil, err
	}
	return parseFlashes(raw)
}

// parseFlashes decodes a flash object (none when raw is empty) keeping the
// order of its kinds.
func parseFlashes(raw json.RawMessage) ([]flashKind, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("auth: flash messages: not a JSON object")
	}
	var all []flashKind
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("auth: flash messages: %w", err)
		}
		kind, _ := tok.(string)
		var msgs []string
		if err := dec.Decode(&msgs); err != nil {
			return nil, fmt.Errorf("auth: flash messages of kind %q: %w", kind, err)
		}
		if len(msgs) > 0 {
			all = append(all, flashKind{kind, msgs})
		}
	}
	return all, nil
}

func writeFlashes(s *sessionkit.Session, all []flashKind) error {
	raw, err := encodeFlashes(all)
	if err != nil {
		return err
	}
	return s.Set(FlashKey, raw)
}

// encodeFlashes encodes the flash object, its kinds in order.
func encodeFlashes(all []flashKind) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, fk := range all {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(fk.kind)
		m, err := json.Marshal(fk.messages)
		if err != nil {
			return nil, fmt.Errorf("auth: flash messages: %w", err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
