package sessionkit_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// refusingCodec is JSONCodec but refuses to encode a session holding the
// key "reserved", as a format refuses a key of its own.
type refusingCodec struct{ sessionkit.JSONCodec }

func (c refusingCodec) Encode(st *sessionkit.State) ([]byte, error) {
	for _, v := range st.Values {
		if v.Key == "reserved" {
			return nil, errors.New(`"reserved" is the format's own key`)
		}
	}
	return c.JSONCodec.Encode(st)
}

// ErrorHandler's default: "500 ... for a session its Codec refuses to
// encode" (the application's fault, not the store's), for a new session
// and for a stored one, with the stored session left as it was.
func TestCodecRefusalIs500(t *testing.T) {
	p := newProbe(t, func(m *sessionkit.Manager) { m.Codec = refusingCodec{} })
	resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("reserved", 1)
		fmt.Fprint(w, "handler")
	})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("new session with a refused key: status %d, want 500", resp.StatusCode)
	}
	if resp, _ := p.serve(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	}); resp.StatusCode != 200 {
		t.Fatalf("a plain write: status %d", resp.StatusCode)
	}
	resp, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 2)
		s.Set("reserved", 1)
		fmt.Fprint(w, "handler")
	})
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "handler") || strings.Contains(body, "reserved") {
		t.Errorf("stored session with a refused key: status %d, body %q; want 500 and nothing of the handler's or the error's", resp.StatusCode, body)
	}
	if _, body := p.serve(func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		fmt.Fprint(w, n)
	}); body != "1" {
		t.Errorf("n = %s after the refused save, want 1 (unchanged)", body)
	}
}
