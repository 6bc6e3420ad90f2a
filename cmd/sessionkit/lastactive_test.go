package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// TestLastActiveOfAnotherIdleTimeout: the CLI does not know the
// application's idle timeout. For sessions of an application whose idle
// timeout is longer than the default (the demo's is three days), list and
// show used to infer a use in the future from the expiry and report every
// session as last active "now"; they report the last write instead. A
// session of an application with the default idle timeout still shows
// its last touch.
func TestLastActiveOfAnotherIdleTimeout(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name            string
		written, expiry time.Time
		want            time.Time
	}{
		// Written 10 minutes ago by an application with a 72h idle timeout.
		{"longer idle timeout", now.Add(-10 * time.Minute), now.Add(-10*time.Minute + 72*time.Hour), now.Add(-10 * time.Minute)},
		// Written an hour ago and touched 5 minutes ago by an application
		// with the default 2h idle timeout.
		{"default idle timeout, touched", now.Add(-time.Hour), now.Add(-5*time.Minute + 2*time.Hour), now.Add(-5 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "s.db")
			st := sessionkit.State{Created: now.Add(-2 * time.Hour), LastActive: tc.written}
			data, err := sessionkit.JSONCodec{}.Encode(&st)
			if err != nil {
				t.Fatal(err)
			}
			s, err := boltstore.Open(db, boltstore.WithSweepInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			key := session{id: "id-ada"}.key()
			if _, err := s.Save(context.Background(), key, sessionkit.Record{Data: data, Expiry: tc.expiry, UserKey: "ada"}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			store := "--store=bolt://" + db

			list := decodeJSON[struct {
				Sessions []struct {
					LastActive time.Time `json:"last_active"`
				}
			}](t, mustRun(t, 0, "list", store, "--json"))
			show := decodeJSON[struct {
				LastActive time.Time `json:"last_active"`
			}](t, mustRun(t, 0, "show", store, "--json", key))
			if len(list.Sessions) != 1 {
				t.Fatalf("list shows %d sessions, want 1", len(list.Sessions))
			}
			for cmd, got := range map[string]time.Time{"list": list.Sessions[0].LastActive, "show": show.LastActive} {
				if d := got.Sub(tc.want); d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("%s: last_active %v, want %v", cmd, got, tc.want)
				}
			}
			table := mustRun(t, 0, "show", store, key).stdout
			if wantAgo := map[bool]string{true: "(10m ago)", false: "(5m ago)"}[tc.name == "longer idle timeout"]; !strings.Contains(table, wantAgo) {
				t.Errorf("show's table lacks %q:\n%s", wantAgo, table)
			}
		})
	}
}
