package mysqlstore_test

// Outside-in acceptance checks of mysqlstore, written from its package
// documentation: each test names the sentence it pins.

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// overPacket returns a record size over the server's max_allowed_packet,
// which "Records are limited by".
func overPacket(t *testing.T) int {
	t.Helper()
	var limit int
	if err := sharedDB(t).QueryRowContext(t.Context(), "SELECT @@max_allowed_packet").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	return limit + 1<<20
}

// "Records are limited by the server's max_allowed_packet": a larger
// record is sessionkit.ErrTooLarge (a hard size limit, which the Manager
// answers with 500), not an error that reads as "the store is down" (503),
// and the store keeps serving other sessions afterwards.
func TestOutsiderRecordOverMaxAllowedPacket(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("moves over 64 MiB through the server")
	}
	s := newStore(t, mysqlstore.Options{})
	overPacket := overPacket(t)
	m := sessionkit.New(s)
	m.MaxDataSize = -1 // leave the limit to the store
	m.Logger = discardLogger()
	m.OpTimeout = time.Minute // 64 MiB under -race takes seconds
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := overPacket
		if r.URL.Path == "/small" {
			n = 10
		}
		sessionkit.From(r.Context()).Set("v", strings.Repeat("a", n))
		w.Write([]byte("ok"))
	})))
	defer srv.Close()
	c, err := browser.NewClient(srv.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.Do("GET", "/big")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("oversized session: status %d, want 500 (ErrTooLarge)", resp.StatusCode)
	}
	resp, body, err := c.Do("GET", "/small")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("next request: %d %q, want 200 ok", resp.StatusCode, body)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
