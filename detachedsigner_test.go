package sessionkit_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// testDetached is a DetachedSigner: base64url(HMAC-SHA256) with the first
// of its keys, any of them verifying.
type testDetached struct{ keys []string }

func (d testDetached) sign(data, key string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func (d testDetached) Sign(data string) string { return d.sign(data, d.keys[0]) }

func (d testDetached) Verify(data, sig string) (bool, bool) {
	for i, k := range d.keys {
		if subtle.ConstantTimeCompare([]byte(d.sign(data, k)), []byte(sig)) == 1 {
			return true, i > 0
		}
	}
	return false, false
}

// tamperLast changes the last character of v (to another one: replacing
// it with a fixed letter would leave v as it was when it ended with it).
func tamperLast(v string) string {
	c := byte('A')
	if v[len(v)-1] == c {
		c = 'B'
	}
	return v[:len(v)-1] + string(c)
}

func setCookies(resp *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestDetachedSignatureCookie(t *testing.T) {
	signer := testDetached{keys: []string{"current"}}
	e := newEnv(t, func(m *sessionkit.Manager) {
		m.Cookie.DetachedSigner = signer
	})
	e.counterRoutes()
	_, _, resp := e.get("/inc")
	cs := setCookies(resp)
	val, sig := cs["session"], cs["session.sig"]
	if val == nil || sig == nil {
		t.Fatalf("Set-Cookie %v: want session and session.sig", resp.Header.Values("Set-Cookie"))
	}
	if sig.Value != signer.Sign("session="+val.Value) {
		t.Fatalf("session.sig = %q, want the signature of session=%s", sig.Value, val.Value)
	}
	// The signature cookie carries the value cookie's attributes.
	if sig.Path != val.Path || sig.MaxAge != val.MaxAge || sig.HttpOnly != val.HttpOnly || sig.SameSite != val.SameSite || !sig.Expires.Equal(val.Expires) {
		t.Fatalf("attributes differ: %+v vs %+v", val, sig)
	}
	if _, body, _ := e.get("/inc"); body != "2" {
		t.Fatalf("second request: %q", body)
	}

	// No signature, a wrong one, a signature of another value, or a
	// tampered value: no session, and nothing adopted.
	good := "session=" + val.Value + "; session.sig=" + sig.Value
	for name, header := range map[string]string{
		"missing sig":     "session=" + val.Value,
		"empty sig":       "session=" + val.Value + "; session.sig=",
		"wrong sig":       "session=" + val.Value + "; session.sig=" + signer.Sign("session=x"),
		"tampered value":  "session=" + tamperLast(val.Value) + "; session.sig=" + sig.Value,
		"unknown key":     "session=" + val.Value + "; session.sig=" + testDetached{keys: []string{"other"}}.Sign("session="+val.Value),
		"sig of the name": "session=" + val.Value + "; session.sig=" + signer.Sign(val.Value),
	} {
		code, body, resp := e.requestWithCookie("/read", header)
		if code != 200 || body != "0" {
			t.Errorf("%s: %d %q, want a new session", name, code, body)
		}
		for _, c := range resp.Cookies() {
			if c.Value == val.Value {
				t.Errorf("%s: the rejected token was sent back", name)
			}
		}
	}
	if _, body, _ := e.requestWithCookie("/read", good); body != "2" {
		t.Fatalf("the good pair: %q", body)
	}
	// As in Node's cookies package, the first signature cookie counts; a
	// value that does not verify is skipped for the next.
	if _, body, _ := e.requestWithCookie("/read", "session=nope; "+good); body != "2" {
		t.Fatalf("first value unsigned: %q", body)
	}
	if _, body, _ := e.requestWithCookie("/read", "session.sig=bad; "+good); body != "0" {
		t.Fatalf("a bad first signature cookie was skipped: %q", body)
	}

	// Destroy clears both cookies.
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	_, _, resp = e.get("/destroy")
	cs = setCookies(resp)
	for _, name := range []string{"session", "session.sig"} {
		if c := cs[name]; c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("after Destroy, %s: %+v, want cleared", name, c)
		}
	}
}

// A cookie signed with a retired key is accepted, and the response signs
// it again with the current key, even when nothing else changed.
func TestDetachedSignatureRotation(t *testing.T) {
	t.Run("ServerSide", func(t *testing.T) {
		e := newEnv(t)
		testRotation(t, e.m, func(m *sessionkit.Manager) *env { e.counterRoutes(); return e })
	})
	t.Run("ClientSide", func(t *testing.T) {
		cs, err := cookiestore.New("session", bytes.Repeat([]byte("k"), 32))
		if err != nil {
			t.Fatal(err)
		}
		m := sessionkit.NewClientSide(cs)
		m.Logger = discardLogger()
		testRotation(t, m, func(m *sessionkit.Manager) *env {
			e := &env{t: t, m: m, mux: http.NewServeMux()}
			e.srv = httptest.NewServer(m.Handler(e.mux))
			t.Cleanup(e.srv.Close)
			e.client = e.newClient()
			e.counterRoutes()
			return e
		})
	})
}

func testRotation(t *testing.T, m *sessionkit.Manager, serve func(*sessionkit.Manager) *env) {
	old := testDetached{keys: []string{"old"}}
	m.Cookie.DetachedSigner = old
	e := serve(m)
	e.get("/inc")
	value := e.jarCookie(e.client)

	rotated := testDetached{keys: []string{"new", "old"}}
	m.Cookie.DetachedSigner = rotated
	_, body, resp := e.get("/read")
	if body != "1" {
		t.Fatalf("an old-key cookie was refused after rotation: %q", body)
	}
	// Only the signature cookie is sent again, as Node's cookies package
	// does: sending the session cookie too would give it a new expiry on
	// a read.
	cs := setCookies(resp)
	if cs["session"] != nil || cs["session.sig"] == nil {
		t.Fatalf("a read with an old-key cookie: Set-Cookie %v, want session.sig alone", resp.Header.Values("Set-Cookie"))
	}
	if got := cs["session.sig"].Value; got != rotated.Sign("session="+value) {
		t.Fatalf("re-signed with %q, not the current key", got)
	}
	// Signed with the current key now: nothing more to send.
	if _, body, resp := e.get("/read"); body != "1" || len(resp.Cookies()) != 0 {
		t.Fatalf("after re-signing: %q %v", body, resp.Header.Values("Set-Cookie"))
	}
	// Once the old key is dropped, the re-signed cookie still works.
	m.Cookie.DetachedSigner = testDetached{keys: []string{"new"}}
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("the re-signed cookie: %q", body)
	}
}

// A codec may report a record that has expired by its own clock as
// ErrNotFound: no session, nothing logged as unreadable.
func TestCodecReportsExpired(t *testing.T) {
	var mu sync.Mutex
	var logged bytes.Buffer
	var events []sessionkit.Event
	c := &expiringCodec{}
	e := newEnv(t, func(m *sessionkit.Manager) {
		m.Codec = c
		m.Logger = slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logged}, nil))
		m.Observer = func(ev sessionkit.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	})
	e.counterRoutes()
	e.get("/inc")
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("before expiry: %q", body)
	}
	c.expired.Store(true)
	if code, body, _ := e.get("/read"); code != 200 || body != "0" {
		t.Fatalf("a record the codec reports expired: %d %q", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if logged.Len() != 0 {
		t.Errorf("logged: %s", logged.String())
	}
	for _, ev := range events {
		if ev.Kind == sessionkit.EventError {
			t.Errorf("observed an error: %v", ev.Err)
		}
	}
}

type expiringCodec struct {
	sessionkit.JSONCodec
	expired atomic.Bool
}

func (c *expiringCodec) Decode(data []byte) (sessionkit.State, error) {
	if c.expired.Load() {
		return sessionkit.State{}, errors.Join(errors.New("test: expired"), sessionkit.ErrNotFound)
	}
	return c.JSONCodec.Decode(data)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
