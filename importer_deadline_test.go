package sessionkit_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// agedImporter imports a session created at a given time.
type agedImporter struct {
	created  time.Time
	deadline time.Time
	retired  int
}

func (a *agedImporter) Import(ctx context.Context, r *http.Request) (*sessionkit.Imported, error) {
	if _, err := r.Cookie("legacy"); err != nil {
		return nil, nil
	}
	return &sessionkit.Imported{
		State: sessionkit.State{
			Values:   []sessionkit.Value{{Key: "n", JSON: []byte("1")}},
			Created:  a.created,
			Deadline: a.deadline,
		},
		UserKey: "ann",
		Retire:  func(context.Context) error { a.retired++; return nil },
	}, nil
}

// A foreign session past its absolute deadline is not taken over; one
// within it keeps its creation time, so the deadline does not move.
func TestImportHonoursTheDeadline(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		created  time.Time
		deadline time.Time
		imported bool
	}{
		{"WithinLifetime", now.Add(-23 * time.Hour), time.Time{}, true},
		{"PastLifetime", now.Add(-25 * time.Hour), time.Time{}, false},
		{"PastOwnDeadline", now.Add(-time.Hour), now.Add(-time.Minute), false},
		{"OwnDeadlineAhead", now.Add(-48 * time.Hour), now.Add(time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp := &agedImporter{created: tt.created, deadline: tt.deadline}
			e := newEnv(t, func(m *sessionkit.Manager) { m.Import = imp }) // Lifetime 24h
			e.handle("/read", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				n, _ := sessionkit.Get[int](s, "n")
				fmt.Fprintf(w, "%d %s %d", n, s.UserKey(), s.Created().Unix())
			})
			_, body, resp := e.requestWithCookie("/read", "legacy=x")
			want := "0  "
			if tt.imported {
				want = fmt.Sprintf("1 ann %d", tt.created.Unix())
			}
			if len(body) < len(want) || body[:len(want)] != want {
				t.Fatalf("read %q, want %q…", body, want)
			}
			if _, set := cookieHeader(resp, "session"); set != tt.imported || (imp.retired == 1) != tt.imported {
				t.Fatalf("native cookie set %v, retired %d; imported should be %v", set, imp.retired, tt.imported)
			}
		})
	}
}
