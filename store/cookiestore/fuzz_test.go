package cookiestore_test

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// FuzzOpen feeds arbitrary tokens to Open, which must never panic, and
// must only ever accept tokens whose record reseals and reopens
// unchanged. Seeds include real tokens (plain and compressed) so that the
// fuzzer explores mutations of valid ones.
func FuzzOpen(f *testing.F) {
	clk := newClock()
	s, err := cookiestore.NewWithOptions(cookiestore.Options{
		CookieName:  "session",
		Secrets:     [][]byte{secretA, secretB},
		MaxDataSize: 8 << 10,
		Now:         clk.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	old, err := cookiestore.New("session", secretB)
	if err != nil {
		f.Fatal(err)
	}
	exp := clk.Now().Add(time.Hour)
	for _, data := range [][]byte{nil, []byte(`{"n":1}`), bytes.Repeat([]byte(`{"k":"v"}`), 50)} {
		for _, sealer := range []*cookiestore.Store{s, old} {
			tok, err := sealer.Seal(record(data, "user", exp))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(tok)
		}
	}
	f.Add("")
	f.Add("AQAAAAA")
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, 64)))
	f.Fuzz(func(t *testing.T, token string) {
		rec, err := s.Open(token)
		_ = s.NeedsReseal(token)
		if err != nil {
			return
		}
		if !clk.Now().Before(rec.Expiry) {
			t.Fatalf("accepted an expired token: %v", rec.Expiry)
		}
		tok, err := s.Seal(rec)
		if err != nil {
			t.Fatalf("reseal of an accepted record: %v", err)
		}
		again, err := s.Open(tok)
		if err != nil || !bytes.Equal(again.Data, rec.Data) || again.UserKey != rec.UserKey || !again.Expiry.Equal(rec.Expiry) {
			t.Fatalf("reseal round trip: %+v, %v; want %+v", again, err, rec)
		}
	})
}
