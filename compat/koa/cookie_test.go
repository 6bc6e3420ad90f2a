package koa_test

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
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// valueApp serves /set?k=&v= (JSON), /get?k= and /keys over m.
func valueApp(t *testing.T, m *sessionkit.Manager) *httptest.Server {
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
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

// rawGet sends exactly cookieHeader and returns status, body and the
// Set-Cookie lines by name.
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

func TestCookieModeRoundTrip(t *testing.T) {
	m, err := koa.NewCookieMode(koa.Options{Keys: []string{"new key", "old key"}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := valueApp(t, m)
	_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=1", "")
	val, sig := cs["koa.sess"], cs["koa.sess.sig"]
	if val == nil || sig == nil {
		t.Fatalf("cookies %v", cs)
	}
	if val.MaxAge < 3599 || val.MaxAge > 3600 || sig.MaxAge != val.MaxAge {
		t.Fatalf("Max-Age %d / %d, want an hour", val.MaxAge, sig.MaxAge)
	}
	body, err := base64.StdEncoding.DecodeString(val.Value)
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(body, &js); err != nil || js["n"] != 1.0 || js["_maxAge"] != 3600000.0 {
		t.Fatalf("cookie body %s (%v)", body, err)
	}
	if exp := time.UnixMilli(int64(js["_expire"].(float64))); exp.Sub(time.Now().Add(time.Hour)).Abs() > 5*time.Second {
		t.Fatalf("_expire %v", exp)
	}
	kg, _ := keygrip.New("new key")
	if sig.Value != kg.Sign("koa.sess="+val.Value) {
		t.Fatalf("koa.sess.sig = %q, want keygrip's signature", sig.Value)
	}
	pair := "koa.sess=" + val.Value + "; koa.sess.sig=" + sig.Value
	if _, got, _ := rawGet(t, srv.URL+"/get?k=n", pair); got != "1" {
		t.Fatalf("read back %q", got)
	}

	// Signed with the old key: accepted and re-signed with the new one;
	// a read sends koa.sess.sig alone, as the cookies package does.
	old, _ := keygrip.New("old key")
	_, got, cs := rawGet(t, srv.URL+"/get?k=n", "koa.sess="+val.Value+"; koa.sess.sig="+old.Sign("koa.sess="+val.Value))
	if got != "1" || cs["koa.sess"] != nil || cs["koa.sess.sig"] == nil || cs["koa.sess.sig"].Value != kg.Sign("koa.sess="+val.Value) {
		t.Fatalf("old-key cookie: %q, re-signed %v", got, cs)
	}

	// Destroy clears both cookies.
	_, _, cs = rawGet(t, srv.URL+"/destroy", pair)
	if cs["koa.sess"] == nil || cs["koa.sess"].MaxAge >= 0 || cs["koa.sess.sig"] == nil || cs["koa.sess.sig"].MaxAge >= 0 {
		t.Fatalf("Destroy sent %v", cs)
	}
}

// Every cookie that is not exactly what a holder of the keys wrote is no
// session: never a 500, never adopted.
func TestCookieModeRefusesTampering(t *testing.T) {
	m, err := koa.NewCookieMode(koa.Options{Keys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := valueApp(t, m)
	_, _, cs := rawGet(t, srv.URL+"/set?k=n&v=%7B%22deep%22%3A%5B1%2C2%5D%7D", "")
	val, sig := cs["koa.sess"].Value, cs["koa.sess.sig"].Value
	kg, _ := keygrip.New("k")
	other, _ := keygrip.New("unknown")
	signed := func(v string) string { return "koa.sess=" + v + "; koa.sess.sig=" + kg.Sign("koa.sess="+v) }
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"missing sig":   "koa.sess=" + val,
		"unknown key":   "koa.sess=" + val + "; koa.sess.sig=" + other.Sign("koa.sess="+val),
		"oversized":     signed(b64(`{"n":"` + strings.Repeat("x", 4000) + `"}`)),
		"not base64":    signed("%%%"),
		"base64url":     signed(strings.NewReplacer("+", "-", "/", "_").Replace(b64(`{"n":"???>>>"}`))),
		"unpadded":      signed(strings.TrimRight(b64(`{"n":1}`), "=")),
		"not JSON":      signed(b64(`{"n":`)),
		"not an object": signed(b64(`[1]`)),
		"not UTF-8":     signed(base64.StdEncoding.EncodeToString([]byte("{\"n\":\"\xff\"}"))),
		"expired":       signed(b64(`{"n":1,"_expire":1000,"_maxAge":1}`)),
		"empty":         signed(""),
	}
	for i := range val {
		for _, c := range []byte{'A', 'b', '+', '='} {
			if val[i] != c {
				cases["value["+strconv.Itoa(i)+"]="+string(c)] = "koa.sess=" + val[:i] + string(c) + val[i+1:] + "; koa.sess.sig=" + sig
				break
			}
		}
	}
	for i := range sig {
		c := byte('A')
		if sig[i] == c {
			c = 'B'
		}
		cases["sig["+strconv.Itoa(i)+"]"] = "koa.sess=" + val + "; koa.sess.sig=" + sig[:i] + string(c) + sig[i+1:]
	}
	for name, header := range cases {
		code, got, cs := rawGet(t, srv.URL+"/get?k=n", header)
		if code != 200 || got != "none" {
			t.Errorf("%s: %d %q, want no session", name, code, got)
		}
		// A signed but unreadable cookie is cleared; nothing is adopted.
		for _, c := range cs {
			if c.Value != "" {
				t.Errorf("%s: sent cookie %v", name, c)
			}
		}
	}
	if _, got, _ := rawGet(t, srv.URL+"/get?k=n", "koa.sess="+val+"; koa.sess.sig="+sig); got != `{"deep":[1,2]}` {
		t.Fatalf("the genuine cookie: %q", got)
	}
}

// A koa-session cookie imported into a Manager of its own keeps the idle
// timeout the koa side gives it — its "_maxAge", or MaxAge for a
// browser-session cookie ("_session") — rather than the new Manager's
// IdleTimeout, which would sign its user out sooner.
func TestCookieImportKeepsLifetime(t *testing.T) {
	for _, tc := range []struct {
		name        string
		node        koa.Options
		wantIdle    time.Duration
		wantBrowser bool
	}{
		{"MaxAge", koa.Options{Keys: []string{"k"}, MaxAge: 12 * time.Hour}, 12 * time.Hour, false},
		{"BrowserSession", koa.Options{Keys: []string{"k"}, MaxAge: 12 * time.Hour, BrowserSession: true}, 12 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, err := koa.NewCookieMode(tc.node)
			if err != nil {
				t.Fatal(err)
			}
			_, _, cs := rawGet(t, valueApp(t, node).URL+"/set?k=n&v=1", "")
			pair := "koa.sess=" + cs["koa.sess"].Value + "; koa.sess.sig=" + cs["koa.sess.sig"].Value

			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(mem)
			m.IdleTimeout = time.Hour // shorter than the imported lifetime
			if m.Import, err = koa.NewCookieImporter(koa.Options{Keys: []string{"k"}, MaxAge: 12 * time.Hour}); err != nil {
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
			ck := set["session"]
			if ck == nil || ck.Value == "" {
				t.Fatalf("not imported: sent %v", set)
			}
			if idle != tc.wantIdle {
				t.Errorf("imported session's idle timeout = %v, want %v", idle, tc.wantIdle)
			}
			if browser := ck.MaxAge == 0 && ck.Expires.IsZero(); browser != tc.wantBrowser {
				t.Errorf("imported cookie %v, want browser-session %v", ck, tc.wantBrowser)
			}
		})
	}
}
