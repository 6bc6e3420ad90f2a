package express_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// goOnly is the Go app of the interop tests on an in-process store.
func goOnly(t *testing.T) (*httptest.Server, sessionkit.Store, *http.Client) {
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	srv := goApp(t, store)
	jar, _ := cookiejar.New(nil)
	return srv, store, &http.Client{Jar: jar}
}

func call(t *testing.T, hc *http.Client, method, u string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s %s", method, u, resp.Status, b)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func sessionCookie(t *testing.T, hc *http.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range hc.Jar.Cookies(u) {
		if c.Name == express.DefaultCookieName {
			return c
		}
	}
	t.Fatal("no connect.sid cookie")
	return nil
}

func TestConfigureWritesExpressSessions(t *testing.T) {
	srv, store, hc := goOnly(t)
	call(t, hc, "POST", srv.URL+"/login?id=42")
	call(t, hc, "POST", srv.URL+"/login?id=1")
	c := sessionCookie(t, hc, srv.URL)
	if !strings.HasPrefix(c.Value, "s%3A") {
		t.Fatalf("cookie value %q is not express-session's", c.Value)
	}
	signer, _ := express.NewSigner(newSecret)
	id, ok := signer.Verify(c.Value)
	if !ok || !(express.IDs{}).ValidID(id) {
		t.Fatalf("cookie %q: id %q, signed %v", c.Value, id, ok)
	}
	rec, err := store.Load(context.Background(), id) // RawKeys: the key is the ID
	if err != nil {
		t.Fatal(err)
	}
	data := string(rec.Data)
	// Passport 0.7 keeps nothing at login; auth's _login follows.
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"` + rec.Expiry.UTC().Format("2006-01-02T15:04:05.000Z") + `","httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":1},"_login":{`
	if !strings.HasPrefix(data, want) {
		t.Fatalf("record = %s\nwant prefix %s", data, want)
	}
	if rec.UserKey != "1" && rec.UserKey != "" {
		t.Errorf("UserKey = %q", rec.UserKey)
	}
	if got := call(t, hc, "GET", srv.URL+"/whoami"); got["user"] != "ann" {
		t.Fatalf("whoami = %v", got)
	}
	// A cookie signed with the old secret is accepted.
	old, _ := express.NewSigner(oldSecret)
	u, _ := url.Parse(srv.URL)
	hc.Jar.SetCookies(u, []*http.Cookie{{Name: express.DefaultCookieName, Value: old.Sign(id), Path: "/"}})
	if got := call(t, hc, "GET", srv.URL+"/whoami"); got["user"] != "ann" {
		t.Fatalf("old-secret cookie: whoami = %v", got)
	}
	// ... and sent again, signed with the new one, by that read.
	if c := sessionCookie(t, hc, srv.URL); c.Value != signer.Sign(id) {
		t.Errorf("after a read with an old-secret cookie the jar holds %q, want %q (signed with the new secret)", c.Value, signer.Sign(id))
	}
	// One signed with an unknown secret is not.
	other, _ := express.NewSigner("someone else")
	hc.Jar.SetCookies(u, []*http.Cookie{{Name: express.DefaultCookieName, Value: other.Sign(id), Path: "/"}})
	if got := call(t, hc, "GET", srv.URL+"/whoami"); got["user"] != nil {
		t.Fatalf("forged cookie: whoami = %v", got)
	}
}

func TestPassportUserValues(t *testing.T) {
	for _, tt := range []struct {
		passport string
		user     any
	}{
		{`{"user":1}`, "ann"},
		{`{"user":0}`, "zero"},
		{`{"user":"2"}`, "bob"},
		{`{"user":""}`, nil},
		{`{"user":false}`, nil},
		{`{"user":null}`, nil},
		{`{}`, nil},
		{`"x"`, nil},
		{`{"user":99}`, nil}, // a user that no longer exists
	} {
		t.Run(tt.passport, func(t *testing.T) {
			srv, store, hc := goOnly(t)
			call(t, hc, "POST", srv.URL+"/set?k=passport&v="+url.QueryEscape(tt.passport))
			if got := call(t, hc, "GET", srv.URL+"/whoami"); got["user"] != tt.user {
				t.Fatalf("whoami = %v, want %v", got["user"], tt.user)
			}
			if tt.passport == `{"user":99}` {
				// As Passport does after a failed deserialize.
				id, _ := express.NewSigner(newSecret)
				sid, _ := id.Verify(sessionCookie(t, hc, srv.URL).Value)
				rec, _ := store.Load(context.Background(), sid)
				if !strings.Contains(string(rec.Data), `"passport":{}`) {
					t.Errorf("record = %s, want \"passport\":{}", rec.Data)
				}
			}
		})
	}
}

func TestConfigureErrors(t *testing.T) {
	m := sessionkit.New(memstore.New(memstore.Options{}))
	if err := express.Configure(m, express.Options{}); err == nil {
		t.Error("Configure without secrets succeeded")
	}
	if err := express.Configure(nil, express.Options{Secrets: []string{"x"}}); err == nil {
		t.Error("Configure(nil) succeeded")
	}
	// The worked example's OLD_SESSION_SECRET, unset: an empty HMAC key
	// would verify cookies anyone can sign, so it is refused.
	if err := express.Configure(m, express.Options{Secrets: []string{"x", ""}}); err == nil {
		t.Error("an empty old secret accepted")
	}
	if err := express.Configure(m, express.Options{Secrets: []string{"x"}, MaxAge: -time.Second}); err == nil {
		t.Error("negative MaxAge accepted")
	}
	if err := express.Configure(m, express.Options{Secrets: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if m.Persistent || m.IdleTimeout != express.DefaultTTL || m.Cookie.Name != "connect.sid" || !m.RawKeys {
		t.Errorf("browser-session config: %+v", m)
	}
}

// PassportField keeps other members of the passport object.
func TestPassportFieldKeepsOtherMembers(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m := sessionkit.New(store)
	express.Configure(m, express.Options{Secrets: []string{"s"}, MaxAge: time.Hour})
	a := auth.New(m, strconv.Itoa, func(_ context.Context, k string) (int, error) {
		n, err := strconv.Atoi(k)
		if err != nil {
			return 0, auth.ErrUserNotFound
		}
		return n, nil
	})
	a.Field = express.PassportField{}
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("passport", json.RawMessage(`{"strategy":"local","user":false}`))
		if err := a.Login(w, r, 7); err != nil {
			t.Fatal(err)
		}
		got, _ := sessionkit.Get[json.RawMessage](s, "passport")
		if string(got) != `{"strategy":"local","user":7}` {
			t.Errorf("passport = %s", got)
		}
		if u, err := a.User(r); err != nil || u != 7 {
			t.Errorf("User = %v, %v", u, err)
		}
		if err := (express.PassportField{}).Clear(s); err != nil {
			t.Fatal(err)
		}
		got, _ = sessionkit.Get[json.RawMessage](s, "passport")
		if string(got) != `{"strategy":"local"}` {
			t.Errorf("after Clear passport = %s", got)
		}
		if _, ok, err := (express.PassportField{}).Read(s); ok || err != nil {
			t.Errorf("Read after Clear = %v, %v", ok, err)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	_ = errors.New
}
