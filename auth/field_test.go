package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

func TestKeyJSON(t *testing.T) {
	tests := []struct {
		json string
		key  string
		back string // KeyToJSON(key)
	}{
		{`42`, "42", `42`},
		{`0`, "0", `0`},
		{`-1.5e3`, "-1.5e3", `-1.5e3`},
		{`"abc"`, "abc", `"abc"`},
		{`"42"`, "42", `42`}, // documented ambiguity: numeric strings come back as numbers
		{`""`, "", `""`},
		{`{ "id": 1, "name": "x" }`, `{"id":1,"name":"x"}`, `{"id":1,"name":"x"}`},
		{`[1,2]`, "[1,2]", `[1,2]`},
		{`true`, "true", `true`},
		{`false`, "false", `"false"`},
		{`null`, "null", `"null"`},
		{`"a\"b"`, `a"b`, `"a\"b"`},
	}
	for _, tt := range tests {
		key, err := auth.KeyFromJSON(json.RawMessage(tt.json))
		if err != nil || key != tt.key {
			t.Errorf("KeyFromJSON(%s) = %q, %v; want %q", tt.json, key, err, tt.key)
		}
		if got := string(auth.KeyToJSON(key)); got != tt.back {
			t.Errorf("KeyToJSON(%q) = %s, want %s", key, got, tt.back)
		}
	}
	for _, bad := range []string{``, `{`, `"unterminated`, `nul`} {
		if _, err := auth.KeyFromJSON(json.RawMessage(bad)); err == nil {
			t.Errorf("KeyFromJSON(%q) accepted", bad)
		}
	}
	for _, k := range []string{" 42", "42 ", "abc", "{", "", "0x10"} {
		var s string
		if err := json.Unmarshal(auth.KeyToJSON(k), &s); err != nil || s != k {
			t.Errorf("KeyToJSON(%q) = %s, want it as a JSON string", k, auth.KeyToJSON(k))
		}
	}
}

// passportField keeps the user key the way Passport does: any JSON value
// at passport.user, where "", false and null mean no user. It is what the
// express compatibility layer needs from UserKeyField.
type passportField struct{}

type passportValue struct {
	User json.RawMessage `json:"user,omitempty"`
}

func (passportField) Read(s *sessionkit.Session) (string, bool, error) {
	p, err := sessionkit.Get[passportValue](s, "passport")
	if err != nil {
		return "", false, err
	}
	switch string(bytes.TrimSpace(p.User)) {
	case "", `""`, "false", "null":
		return "", false, nil
	}
	key, err := auth.KeyFromJSON(p.User)
	return key, err == nil, err
}

func (passportField) Write(s *sessionkit.Session, key string) error {
	return s.Set("passport", passportValue{User: auth.KeyToJSON(key)})
}

func (passportField) Clear(s *sessionkit.Session) error {
	return s.Set("passport", passportValue{}) // Passport leaves "passport":{}
}

func TestPassportStyleField(t *testing.T) {
	store := newMemStore(t)
	m := sessionkit.New(store)
	type U struct{ ID int }
	exists := map[int]bool{0: true, 42: true}
	a := auth.New(m,
		func(u U) string { return strconv.Itoa(u.ID) },
		func(_ context.Context, key string) (U, error) {
			id, err := strconv.Atoi(key)
			if err != nil || !exists[id] {
				return U{}, auth.ErrUserNotFound
			}
			return U{ID: id}, nil
		})
	a.Field = passportField{}
	a.Logger = m.Logger
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		if err := a.Login(w, r, U{ID: id}); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) {
		u, err := a.User(r)
		if err != nil {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprint(w, u.ID)
	})
	srv := httptest.NewServer(a.Handler(mux))
	defer srv.Close()
	e := &env{t: t, srv: srv}

	for _, id := range []int{42, 0} {
		c := e.client()
		c.do("POST", "/login/"+strconv.Itoa(id), nil)
		if got := c.do("GET", "/who", nil).body; got != strconv.Itoa(id) {
			t.Fatalf("user %d: who = %q", id, got)
		}
		rec, err := store.Load(context.Background(), m.KeyOf(c.cookie().Value))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`"passport":{"user":%d}`, id)
		if !bytes.Contains(rec.Data, []byte(want)) || rec.UserKey != strconv.Itoa(id) {
			t.Errorf("record %s (UserKey %q); want %s and UserKey %d", rec.Data, rec.UserKey, want, id)
		}
		if id == 42 {
			// The user disappears: logged out, leaving "passport":{}.
			delete(exists, 42)
			if got := c.do("GET", "/who", nil).body; got != "anonymous" {
				t.Errorf("deleted user: who = %q", got)
			}
			rec, _ := store.Load(context.Background(), m.KeyOf(c.cookie().Value))
			if !bytes.Contains(rec.Data, []byte(`"passport":{}`)) || rec.UserKey != "" {
				t.Errorf("after failed deserialize: %s (UserKey %q)", rec.Data, rec.UserKey)
			}
		}
	}
}

// A session written by other software (say Node) holds a user but is not
// indexed: the first authenticated request indexes it.
func TestForeignSessionGetsIndexed(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.do("POST", "/set?k=_user&v=1", nil) // as if another app had logged alice in
	key := e.m.KeyOf(c.cookie().Value)
	rec, _ := e.store.Load(context.Background(), key)
	if rec.UserKey != "" {
		t.Fatalf("precondition: UserKey %q", rec.UserKey)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("whoami = %q", got)
	}
	es, err := e.store.(sessionkit.UserIndex).UserSessions(context.Background(), "1")
	if err != nil || len(es) != 1 || es[0].Key != key {
		t.Errorf("index after first use = %v, %v; want the session", es, err)
	}
}

func TestUnreadableUserKeyIsLoggedOut(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.do("POST", "/set?k=other&v=x", nil)
	// Put a non-string under "_user" directly in the store.
	key := e.m.KeyOf(c.cookie().Value)
	rec, _ := e.store.Load(context.Background(), key)
	rec.Data = bytes.Replace(rec.Data, []byte(`"values":{`), []byte(`"values":{"_user":{"not":"a string"},`), 1)
	if _, err := e.store.Save(context.Background(), key, rec); err != nil {
		t.Fatal(err)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("whoami = %q", got)
	}
	if got := c.do("GET", "/get?k=other", nil).body; got != "x" {
		t.Errorf("other value = %q", got)
	}
	rec, _ = e.store.Load(context.Background(), key)
	if bytes.Contains(rec.Data, []byte(`"_user"`)) {
		t.Errorf("garbage user key kept: %s", rec.Data)
	}
}
