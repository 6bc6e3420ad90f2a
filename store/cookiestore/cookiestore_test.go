package cookiestore_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// secret returns a deterministic test secret of n bytes.
func secret(label string, n int) []byte {
	return []byte(strings.Repeat(label, n/len(label)+1)[:n])
}

var (
	secretA = secret("alpha-", 32)
	secretB = secret("bravo-", 40)
	secretC = secret("charlie-", 64)
)

func mustNew(t testing.TB, opts cookiestore.Options) *cookiestore.Store {
	t.Helper()
	if opts.CookieName == "" {
		opts.CookieName = "session"
	}
	s, err := cookiestore.NewWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixedClock is a settable clock safe for concurrent use.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fixedClock { return &fixedClock{now: time.Now().Truncate(time.Millisecond)} }

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func record(data []byte, userKey string, exp time.Time) sessionkit.Record {
	return sessionkit.Record{Data: data, UserKey: userKey, Expiry: exp}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		cookie  string
		secrets [][]byte
		want    string
		short   bool
	}{
		{"no secrets", "session", nil, "at least one secret", false},
		{"short secret", "session", [][]byte{secretA, []byte("too short")}, "secret 1 is 9 bytes, need at least 32", true},
		{"empty secret", "session", [][]byte{{}}, "secret 0 is 0 bytes", true},
		{"one byte short", "session", [][]byte{secretA[:31]}, "secret 0 is 31 bytes", true},
		{"duplicate", "session", [][]byte{secretA, secretB, secretA}, "secrets 0 and 2 are the same", false},
		{"no cookie name", "", [][]byte{secretA}, "cookie name is required", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := cookiestore.New(tt.cookie, tt.secrets...)
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if errors.Is(err, cookiestore.ErrShortSecret) != tt.short {
				t.Fatalf("errors.Is(%v, ErrShortSecret) = %v, want %v", err, !tt.short, tt.short)
			}
		})
	}
	if _, err := cookiestore.New("session", secretA[:32], secretB); err != nil {
		t.Fatalf("32-byte secret refused: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	clk := newClock()
	exp := clk.Now().Add(time.Hour)
	compressible := bytes.Repeat([]byte(`{"cart":["apple","banana"],"theme":"dark"}`), 40)
	tests := []struct {
		name    string
		opts    cookiestore.Options
		data    []byte
		userKey string
	}{
		{"empty", cookiestore.Options{}, nil, ""},
		{"small", cookiestore.Options{}, []byte(`{"n":1}`), ""},
		{"user key", cookiestore.Options{}, []byte(`{"n":1}`), "user:42"},
		{"binary", cookiestore.Options{}, []byte{0, 1, 2, 0xff, 0xfe, 0}, "\x00weird\xff"},
		{"compressible", cookiestore.Options{}, compressible, "u"},
		{"compressible, compression off", cookiestore.Options{DisableCompression: true, MaxTokenSize: 1 << 20}, compressible, "u"},
		{"incompressible", cookiestore.Options{}, randomBytes(1500), "u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Secrets = [][]byte{secretA}
			tt.opts.Now = clk.Now
			s := mustNew(t, tt.opts)
			token, err := s.Seal(record(tt.data, tt.userKey, exp))
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(token, "=+/") {
				t.Fatalf("token is not unpadded base64url: %q", token)
			}
			got, err := s.Open(token)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, tt.data) || got.UserKey != tt.userKey || !got.Expiry.Equal(exp) || got.Version != 0 {
				t.Fatalf("Open = %+v, want data %q user %q expiry %v", got, tt.data, tt.userKey, exp)
			}
			if token2, _ := s.Seal(record(tt.data, tt.userKey, exp)); token2 == token {
				t.Fatal("two seals of one record gave the same token (nonce reuse)")
			}
		})
	}
}

func TestCompressionShrinksTokens(t *testing.T) {
	data := bytes.Repeat([]byte(`{"item":"same thing again"}`), 100)
	exp := time.Now().Add(time.Hour)
	on := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	off := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}, DisableCompression: true, MaxTokenSize: 1 << 20})
	a, err := on.Seal(record(data, "", exp))
	if err != nil {
		t.Fatal(err)
	}
	b, err := off.Seal(record(data, "", exp))
	if err != nil {
		t.Fatal(err)
	}
	if len(a)*4 > len(b) {
		t.Fatalf("compressed token %d bytes, uncompressed %d: compression did not help", len(a), len(b))
	}
	// Either store opens the other's tokens: the flag travels inside.
	for _, c := range []struct {
		s     *cookiestore.Store
		token string
	}{{on, b}, {off, a}} {
		got, err := c.s.Open(c.token)
		if err != nil || !bytes.Equal(got.Data, data) {
			t.Fatalf("cross open: %v", err)
		}
	}
}

// Every single-byte change anywhere in the sealed bytes, and every change
// of one character of the token, is refused.
func TestTamper(t *testing.T) {
	s := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	exp := time.Now().Add(time.Hour)
	for _, data := range [][]byte{[]byte(`{"role":"user"}`), bytes.Repeat([]byte(`{"role":"user"}`), 30)} {
		token, err := s.Seal(record(data, "u1", exp))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(raw)
				bad[i] ^= mask
				if rec, err := s.Open(base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, cookiestore.ErrInvalidToken) {
					t.Fatalf("byte %d ^ %#x: Open = %+v, %v; want ErrInvalidToken", i, mask, rec, err)
				}
			}
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range token {
			for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, token[i])+1)%64], '=', '.', '+'} {
				bad := token[:i] + string(c) + token[i+1:]
				if _, err := s.Open(bad); !errors.Is(err, sessionkit.ErrNotFound) {
					t.Fatalf("char %d -> %q: Open error %v, want ErrNotFound", i, c, err)
				}
			}
		}
	}
}

func TestTruncation(t *testing.T) {
	s := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	token, err := s.Seal(record([]byte(`{"n":1}`), "u", time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(token) {
		if _, err := s.Open(token[:n]); !errors.Is(err, cookiestore.ErrInvalidToken) {
			t.Fatalf("token cut to %d of %d bytes: error %v, want ErrInvalidToken", n, len(token), err)
		}
	}
	if _, err := s.Open(token + "A"); !errors.Is(err, cookiestore.ErrInvalidToken) {
		t.Fatalf("token with an extra byte: error %v", err)
	}
	if _, err := s.Open(token + token); !errors.Is(err, cookiestore.ErrInvalidToken) {
		t.Fatalf("doubled token: error %v", err)
	}
}

func TestWrongKeyAndCookieName(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	sealer := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	token, err := sealer.Seal(record([]byte(`{"n":1}`), "", exp))
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]*cookiestore.Store{
		"other key":         mustNew(t, cookiestore.Options{Secrets: [][]byte{secretB}}),
		"other keys":        mustNew(t, cookiestore.Options{Secrets: [][]byte{secretB, secretC}}),
		"other cookie name": mustNew(t, cookiestore.Options{CookieName: "prefs", Secrets: [][]byte{secretA}}),
	}
	for name, s := range others {
		if _, err := s.Open(token); !errors.Is(err, cookiestore.ErrInvalidToken) {
			t.Errorf("%s: Open error %v, want ErrInvalidToken", name, err)
		}
	}
}

func TestRotatedKey(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	data := []byte(`{"n":1}`)
	before := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	after := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretB, secretA}})
	retired := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretB}})

	old, err := before.Seal(record(data, "", exp))
	if err != nil {
		t.Fatal(err)
	}
	if before.NeedsReseal(old) {
		t.Fatal("a token sealed with the newest key needs resealing")
	}
	got, err := after.Open(old)
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("token sealed with the previous key: Open = %q, %v", got.Data, err)
	}
	if !after.NeedsReseal(old) {
		t.Fatal("a token sealed with a retired key does not need resealing")
	}
	fresh, err := after.Seal(got)
	if err != nil {
		t.Fatal(err)
	}
	if after.NeedsReseal(fresh) {
		t.Fatal("resealed token still needs resealing")
	}
	if _, err := retired.Open(fresh); err != nil {
		t.Fatalf("resealed token does not open with the newest key alone: %v", err)
	}
	if _, err := retired.Open(old); !errors.Is(err, cookiestore.ErrInvalidToken) {
		t.Fatalf("token of a dropped key: error %v, want ErrInvalidToken", err)
	}
	if _, err := before.Open(fresh); !errors.Is(err, cookiestore.ErrInvalidToken) {
		t.Fatalf("store without the new key opened its token: %v", err)
	}
	for _, junk := range []string{"", "abc", "!!!!!!!!", strings.Repeat("A", 8)} {
		if after.NeedsReseal(junk) {
			t.Errorf("NeedsReseal(%q) = true", junk)
		}
	}
}

func TestExpiredPayload(t *testing.T) {
	clk := newClock()
	s := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}, Now: clk.Now})
	exp := clk.Now().Add(10 * time.Minute)
	token, err := s.Seal(record([]byte(`{"n":1}`), "", exp))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Minute - time.Millisecond)
	if _, err := s.Open(token); err != nil {
		t.Fatalf("1ms before expiry: %v", err)
	}
	clk.Advance(time.Millisecond)
	if _, err := s.Open(token); !errors.Is(err, cookiestore.ErrExpired) || !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("at expiry: error %v, want ErrExpired wrapping ErrNotFound", err)
	}
	if _, err := s.Seal(record(nil, "", time.Time{})); err == nil {
		t.Fatal("sealed a record without an expiry")
	}
}

func TestOversized(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		opts cookiestore.Options
		data []byte
	}{
		{"token over 4096", cookiestore.Options{}, randomBytes(3500)},
		{"token over custom limit", cookiestore.Options{MaxTokenSize: 512}, randomBytes(500)},
		{"payload over MaxDataSize", cookiestore.Options{}, bytes.Repeat([]byte("a"), cookiestore.DefaultMaxDataSize+1)},
		{"payload over custom MaxDataSize", cookiestore.Options{MaxDataSize: 100}, bytes.Repeat([]byte("a"), 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Secrets = [][]byte{secretA}
			s := mustNew(t, tt.opts)
			if tok, err := s.Seal(record(tt.data, "", exp)); !errors.Is(err, sessionkit.ErrTooLarge) {
				t.Fatalf("Seal = %d bytes, %v; want ErrTooLarge", len(tok), err)
			}
		})
	}
	// A highly compressible payload far bigger than a cookie still fits.
	s := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}})
	big := bytes.Repeat([]byte("z"), 60<<10)
	tok, err := s.Seal(record(big, "", exp))
	if err != nil {
		t.Fatalf("60 KiB of one byte: %v", err)
	}
	if got, err := s.Open(tok); err != nil || !bytes.Equal(got.Data, big) {
		t.Fatalf("Open: %v", err)
	}
}

// A token whose compressed payload inflates beyond the opener's
// MaxDataSize is refused.
func TestDecompressionBounded(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	generous := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}, MaxDataSize: 4 << 20})
	strict := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}, MaxDataSize: 1 << 10})
	bomb, err := generous.Seal(record(bytes.Repeat([]byte{0}, 2<<20), "", exp))
	if err != nil {
		t.Fatal(err)
	}
	if len(bomb) > 4096 {
		t.Fatalf("bomb token is %d bytes", len(bomb))
	}
	if _, err := strict.Open(bomb); !errors.Is(err, cookiestore.ErrInvalidToken) {
		t.Fatalf("2 MiB payload under a 1 KiB limit: error %v, want ErrInvalidToken", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA, secretB}})
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte('a' + g)}, 200+g)
			for range 200 {
				tok, err := s.Seal(record(data, "", exp))
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.Open(tok)
				if err != nil || !bytes.Equal(got.Data, data) {
					t.Errorf("Open: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestOpenRefusesLineBreaks(t *testing.T) {
	s, err := cookiestore.New("session", bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.Seal(sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(token); err != nil {
		t.Fatalf("Open(sealed) = %v", err)
	}
	for _, bad := range []string{token[:10] + "\n" + token[10:], token[:10] + "\r\n" + token[10:], token + "\n"} {
		if _, err := s.Open(bad); !errors.Is(err, cookiestore.ErrInvalidToken) {
			t.Errorf("Open(%q) = %v, want ErrInvalidToken", bad, err)
		}
	}
}
