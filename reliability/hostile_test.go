package reliability

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// hostileRequests is a corpus of requests a client controls completely:
// cookies and headers that are huge, numerous, malformed, duplicated,
// forged or signed with the wrong key. valid is a genuine session cookie
// value (signed), so that corruptions of it are in the corpus too.
func hostileRequests(valid string) []struct{ name, head string } {
	id, sig, _ := strings.Cut(valid, ".")
	random43 := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	many := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, "; ")
	}
	cookie := func(v string) string { return "Cookie: " + v + "\r\n" }
	return []struct{ name, head string }{
		{"no cookie", ""},
		{"empty cookie header", cookie("")},
		{"empty value", cookie("session=")},
		{"only separators", cookie(";;;; ; ;=;=")},
		{"name without value", cookie("session")},
		{"quoted value", cookie(`session="` + valid + `"`)},
		{"unknown well-formed ID, unsigned", cookie("session=" + random43())},
		{"unknown ID with a forged signature", cookie("session=" + random43() + "." + sig)},
		{"valid ID, wrong signature", cookie("session=" + id + "." + flip(sig, 3))},
		{"valid ID, no signature", cookie("session=" + id)},
		{"valid ID, empty signature", cookie("session=" + id + ".")},
		{"valid ID, signature of another key", cookie("session=" + id + "." + random43())},
		{"tampered ID, valid signature", cookie("session=" + flip(id, 5) + "." + sig)},
		{"truncated", cookie("session=" + valid[:len(valid)/2])},
		{"doubled", cookie("session=" + valid + valid)},
		{"express-style s: prefix", cookie("session=s%3A" + valid)},
		{"percent-encoded", cookie("session=" + strings.ReplaceAll(valid, ".", "%2E"))},
		{"bad percent-encoding", cookie("session=%zz%%" + id)},
		{"invalid UTF-8", cookie("session=\xff\xfe\xfd" + id)},
		{"control characters", cookie("session=\x01\x02\x7f" + id)},
		{"spaces and tabs", cookie("session= \t" + valid + " \t")},
		{"non-base64 characters", cookie("session=" + strings.Repeat("!@#$^&*()", 5))},
		{"duplicate names, forged first", cookie("session=" + random43() + "." + sig + "; session=" + valid)},
		{"duplicate names, valid first", cookie("session=" + valid + "; session=" + random43())},
		{"two Cookie headers", cookie("session="+random43()) + cookie("session="+valid)},
		{"1,000 session cookies", cookie(many(1000, func(int) string { return "session=" + random43() }))},
		{"5,000 other cookies", cookie(many(5000, func(i int) string { return fmt.Sprintf("c%d=%d", i, i) }))},
		{"8 KiB value", cookie("session=" + strings.Repeat("A", 8<<10))},
		{"64 KiB value", cookie("session=" + strings.Repeat("A", 64<<10))},
		{"512 KiB value", cookie("session=" + strings.Repeat("A", 512<<10))},
		{"2 MiB value (over the header limit)", cookie("session=" + strings.Repeat("A", 2<<20))},
		{"huge cookie name", cookie(strings.Repeat("n", 100<<10) + "=" + valid)},
		{"1,000 headers", many(1000, func(i int) string { return fmt.Sprintf("X-H%d: %d\r\n", i, i) })},
		{"garbage X-Forwarded-*", "X-Forwarded-Proto: https, http, \x00\r\nX-Forwarded-For: ::::, 999.1.1.1, \r\nForwarded: for=\"[zz\";proto=gopher\r\n"},
		{"session header lookalikes", "Authorization: Bearer " + valid + "\r\nX-Session: " + valid + "\r\n"},
	}
}

// TestHostileInput sends every request of the corpus, raw over TCP, to
// /get and /incr through the middleware, several times, and checks that
// every answer is a normal one (200, or net/http's own 400/431 for
// requests it refuses to parse) — never a 500 and never a dropped
// connection — that no hostile token is ever accepted as a session ID,
// that read-only requests store nothing, and that memory stays bounded.
func TestHostileInput(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m := newManager(store)
	signer, err := sessionkit.NewHMACSigner([]byte(strings.Repeat("k", sessionkit.MinKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	m.Cookie.Signer = signer
	var panics atomic.Int64
	h := appHandler(m)
	recovering := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				panics.Add(1)
				panic(v)
			}
		}()
		h.ServeHTTP(w, r)
	})
	base := serve(t, recovering)
	addr := strings.TrimPrefix(base, "http://")

	// A genuine session, so that the corpus can corrupt a real cookie.
	tr := newTransport(1)
	defer tr.CloseIdleConnections()
	b := newBrowser(tr, base)
	b.mustDo(t, "/incr")
	valid := strings.TrimPrefix(b.cookie, "session=")
	corpus := hostileRequests(valid)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	entriesBefore, _ := store.Stats()
	codes := map[int]int{}
	const rounds = 5
	for round := range rounds {
		for _, c := range corpus {
			for _, path := range []string{"/get", "/incr"} {
				code, setCookie, err := rawRequest(t.Context(), addr, path, c.head)
				if err != nil {
					t.Fatalf("%s %s: %v (the server must answer, not drop the connection)", c.name, path, err)
				}
				codes[code]++
				switch code {
				case http.StatusOK, http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge:
				default:
					t.Errorf("%s %s: status %d", c.name, path, code)
				}
				if round == 0 && code == http.StatusOK && path == "/get" && setCookie != "" {
					t.Errorf("%s: a read-only request was given a session cookie %q", c.name, setCookie)
				}
				// A hostile request may create a new session (incr), but
				// never under an ID the client chose.
				if setCookie != "" {
					got, _, _ := strings.Cut(strings.TrimPrefix(setCookie, "session="), ".")
					if got != "" && got != id(valid) && strings.Contains(c.head, got) {
						t.Errorf("%s: the server adopted a client-chosen ID %q", c.name, got)
					}
				}
			}
		}
	}
	if n := panics.Load(); n > 0 {
		t.Errorf("%d handler panics", n)
	}
	entriesAfter, _ := store.Stats()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d hostile requests x %d rounds x 2 routes: answers by status %v; %d handler panics; sessions stored %d -> %d; HeapInuse after GC %+.1f MiB",
		len(corpus), rounds, codes, panics.Load(), entriesBefore, entriesAfter, float64(growth)/(1<<20))
	// Only /incr may store sessions: at most one per request that reached
	// the handler.
	if max := entriesBefore + len(corpus)*rounds; entriesAfter > max {
		t.Errorf("%d sessions stored, want at most %d", entriesAfter, max)
	}
	// Tens of MiB of hostile input went through; what stays behind must
	// be small. The bound is generous: it catches retained request data,
	// not allocator noise.
	if growth > 16<<20 {
		t.Errorf("HeapInuse grew by %d bytes", growth)
	}
}

func id(signed string) string {
	v, _, _ := strings.Cut(signed, ".")
	return v
}

// rawRequest writes a GET request with the given extra header lines
// straight to the server, so that nothing in an HTTP client sanitizes it,
// and returns the status and the session cookie set, if any.
func rawRequest(ctx context.Context, addr, path, head string) (code int, setCookie string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Write in the background: for requests over the header limit the
	// server answers 431 and closes before reading everything.
	go fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n", path, head)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "session" && c.Value != "" {
			setCookie = c.Name + "=" + c.Value
		}
	}
	return resp.StatusCode, setCookie, nil
}
