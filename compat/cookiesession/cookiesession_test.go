package cookiesession_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/store/memstore"
)

func app(t *testing.T, m *sessionkit.Manager) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), json.RawMessage(r.URL.Query().Get("v"))); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, err := sessionkit.Get[json.RawMessage](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if v == nil {
			v = json.RawMessage("none")
		}
		w.Write(v)
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

func rawGet(t *testing.T, url, cookieHeader string) (int, string, map[string]*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if cookieHeader != "" {
		req.Header.Set("Cookie", cookieHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	cs := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		cs[c.Name] = c
	}
	return resp.StatusCode, string(b), cs
}

func TestRoundTripAndTampering(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Keys: []string{"new", "old"}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := app(t, m)
	_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=%7B%22a%22%3A%22%E2%80%A8%22%7D", "")
	val, sig := cs["session"], cs["session.sig"]
	if val == nil || sig == nil || val.MaxAge < 3599 {
		t.Fatalf("cookies %v", cs)
	}
	if body, _ := base64.StdEncoding.DecodeString(val.Value); string(body) != `{"n":{"a":"`+"\u2028"+`"}}` {
		t.Fatalf("cookie body %s", body)
	}
	kg, _ := keygrip.New("new")
	if sig.Value != kg.Sign("session="+val.Value) {
		t.Fatal("session.sig is not keygrip's signature")
	}
	pair := "session=" + val.Value + "; session.sig=" + sig.Value
	if _, got, cs := rawGet(t, srv.URL+"/get?k=n", pair); got != `{"a":"`+"\u2028"+`"}` || len(cs) != 0 {
		t.Fatalf("read back %q, sent %v", got, cs)
	}
	old, _ := keygrip.New("old")
	if _, got, cs := rawGet(t, srv.URL+"/get?k=n", "session="+val.Value+"; session.sig="+old.Sign("session="+val.Value)); !strings.Contains(got, `"a"`) ||
		cs["session.sig"] == nil || cs["session.sig"].Value != sig.Value {
		t.Fatalf("old-key cookie: %q, re-signed %v", got, cs)
	}
	signed := func(v string) string { return "session=" + v + "; session.sig=" + kg.Sign("session="+v) }
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"missing sig": "session=" + val.Value,
		"oversized":   signed(b64(`{"n":"` + strings.Repeat("x", 4000) + `"}`)),
		"not JSON":    signed(b64(`{"n"`)),
		"array":       signed(b64(`[1]`)),
		"unpadded":    signed(strings.TrimRight(b64(`{"n":1}`), "=")),
	}
	for i := range val.Value {
		c := byte('A')
		if val.Value[i] == c {
			c = 'B'
		}
		cases["value "+strconv.Itoa(i)] = "session=" + val.Value[:i] + string(c) + val.Value[i+1:] + "; session.sig=" + sig.Value
	}
	for i := range sig.Value {
		c := byte('A')
		if sig.Value[i] == c {
			c = 'B'
		}
		cases["sig "+strconv.Itoa(i)] = "session=" + val.Value + "; session.sig=" + sig.Value[:i] + string(c) + sig.Value[i+1:]
	}
	for name, h := range cases {
		code, got, cs := rawGet(t, srv.URL+"/get?k=n", h)
		if code != 200 || got != "none" {
			t.Errorf("%s: %d %q", name, code, got)
		}
		for _, c := range cs {
			if c.Value != "" {
				t.Errorf("%s: sent %v", name, c)
			}
		}
	}
}

func TestBrowserSessionCookie(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Keys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := app(t, m)
	_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=1", "")
	if c := cs["session"]; c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("new session cookie %v, want a browser-session cookie", c)
	}
	pair := "session=" + cs["session"].Value + "; session.sig=" + cs["session.sig"].Value
	if _, _, cs := rawGet(t, srv.URL+"/set?k=n&v=2", pair); cs["session"] == nil || cs["session"].MaxAge != 0 {
		t.Fatalf("a changed session's cookie %v, want a browser-session cookie", cs["session"])
	}
}

func TestCodecRefusesOwnKeys(t *testing.T) {
	for _, k := range []string{"isChanged", "isNew", "isPopulated", "_ctx"} {
		st := sessionkit.State{Values: []sessionkit.Value{{Key: k, JSON: []byte("1")}}}
		if _, err := (cookiesession.Codec{}).Encode(&st); err == nil {
			t.Errorf("Encode accepted %s", k)
		}
	}
}

func FuzzCodec(f *testing.F) {
	f.Add([]byte(`{"views":3,"passport":{"user":1}}`))
	f.Add([]byte(`{"a":1,"a":[1e21,0.1,null,12345678901234567890]}`))
	c := cookiesession.Codec{Persistent: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := c.Decode(data)
		if err != nil {
			return
		}
		out, err := c.Encode(&st)
		if err != nil {
			return
		}
		st2, err := c.Decode(out)
		if err != nil || len(st2.Values) != len(st.Values) {
			t.Fatalf("Decode(Encode(%q)) = %v, %v", data, st2, err)
		}
		out2, err := c.Encode(&st2)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("not stable: %q then %q", out, out2)
		}
	})
}

func FuzzOpen(f *testing.F) {
	f.Add("eyJhIjoxfQ==")
	f.Add("e30=")
	f.Add("eyJhIjoxfQ")
	s := &cookiesession.Store{}
	f.Fuzz(func(t *testing.T, token string) {
		rec, err := s.Open(token)
		if err != nil {
			return
		}
		if again, _ := s.Seal(rec); again != token {
			t.Fatalf("Seal(Open(%q)) = %q", token, again)
		}
	})
}

// An imported session keeps the lifetime cookie-session gave it — MaxAge,
// or TTL for a browser-session cookie — rather than taking the new
// Manager's IdleTimeout, which would sign out a user who comes back
// later than that but before their cookie-session cookie expired.
func TestImportKeepsLifetime(t *testing.T) {
	for _, tc := range []struct {
		name        string
		o           cookiesession.Options
		wantMaxAge  int
		wantBrowser bool
		wantIdle    time.Duration
	}{
		{"MaxAge", cookiesession.Options{Keys: []string{"k"}, MaxAge: 12 * time.Hour}, 12 * 3600, false, 12 * time.Hour},
		{"BrowserSession", cookiesession.Options{Keys: []string{"k"}, TTL: 10 * time.Hour}, 0, true, 10 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, err := cookiesession.New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, _, cs := rawGet(t, app(t, node).URL+"/set?k=n&v=1", "")
			pair := "session=" + cs["session"].Value + "; session.sig=" + cs["session.sig"].Value

			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(mem)
			m.Cookie.Name = "sk"
			m.IdleTimeout = time.Hour // shorter than the imported lifetime
			if m.Import, err = cookiesession.NewImporter(tc.o); err != nil {
				t.Fatal(err)
			}
			var idle time.Duration
			mux := http.NewServeMux()
			mux.HandleFunc("/idle", func(w http.ResponseWriter, r *http.Request) {
				idle = sessionkit.From(r.Context()).IdleTimeout()
			})
			srv := httptest.NewServer(m.Handler(mux))
			t.Cleanup(srv.Close)

			_, _, set := rawGet(t, srv.URL+"/idle", pair)
			ck := set["sk"]
			if ck == nil || ck.Value == "" {
				t.Fatalf("not imported: sent %v", set)
			}
			if idle != tc.wantIdle {
				t.Errorf("imported session's idle timeout = %v, want %v", idle, tc.wantIdle)
			}
			if tc.wantBrowser && (ck.MaxAge != 0 || !ck.Expires.IsZero()) {
				t.Errorf("imported cookie %v, want a browser-session cookie", ck)
			}
			if !tc.wantBrowser && ck.MaxAge != tc.wantMaxAge {
				t.Errorf("imported cookie Max-Age = %d, want %d", ck.MaxAge, tc.wantMaxAge)
			}
		})
	}
}

// A browser-session cookie (no MaxAge) carries no time: TTL cannot end it
// on the Go side, which accepts a copy of it, days later, as the Node side
// does. (The docs said TTL bounded it on the Go side.)
func TestBrowserSessionCookieHasNoGoSideLimit(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Keys: []string{"k"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Now = func() time.Time { return now }
	srv := app(t, m)
	_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=1", "")
	if cs["session"] == nil || cs["session"].MaxAge != 0 || !cs["session"].Expires.IsZero() {
		t.Fatalf("a browser-session cookie: %v", cs["session"])
	}
	pair := "session=" + cs["session"].Value + "; session.sig=" + cs["session.sig"].Value
	now = now.Add(72 * time.Hour)
	if _, got, _ := rawGet(t, srv.URL+"/get?k=n", pair); got != "1" {
		t.Fatalf("the cookie three days after its TTL: %q, want it still accepted", got)
	}
}
