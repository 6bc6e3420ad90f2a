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

// TestLifetimeFlags: --idle-timeout and --lifetime give list and show the
// application's lifetimes. With the application's idle timeout, a touch
// that wrote nothing is found in the expiry (without it, only the last
// write can be vouched for); --lifetime sets the deadline counted from
// the creation time, and a session's own deadline wins over it.
func TestLifetimeFlags(t *testing.T) {
	now := time.Now()
	created, written, touched := now.Add(-2*time.Hour), now.Add(-time.Hour), now.Add(-5*time.Minute)
	own := now.Add(90 * time.Minute)
	db := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(db, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	// An application with a 72h idle timeout: written an hour ago,
	// touched 5 minutes ago. A second session has its own deadline.
	keys := []string{session{id: "id-ada"}.key(), session{id: "id-bob"}.key()}
	for i, st := range []sessionkit.State{
		{Created: created, LastActive: written},
		{Created: created, LastActive: written, Deadline: own},
	} {
		data, err := sessionkit.JSONCodec{}.Encode(&st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Save(context.Background(), keys[i], sessionkit.Record{Data: data, Expiry: touched.Add(72 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	store := "--store=bolt://" + db

	type out struct {
		LastActive time.Time  `json:"last_active"`
		Deadline   *time.Time `json:"deadline"`
	}
	for _, tc := range []struct {
		name     string
		flags    []string
		active   time.Time
		deadline time.Time // of the session without its own; zero: none
	}{
		{"defaults", nil, written, created.Add(24 * time.Hour)},
		{"the application's", []string{"--idle-timeout=72h", "--lifetime=168h"}, touched, created.Add(168 * time.Hour)},
		{"no lifetime", []string{"--idle-timeout", "72h", "--lifetime", "0"}, touched, time.Time{}},
		{"no idle timeout", []string{"--idle-timeout=0"}, written, created.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := decodeJSON[struct{ Sessions []out }](t, mustRun(t, 0, append([]string{"list", store, "--json"}, tc.flags...)...))
			if len(list.Sessions) != 2 {
				t.Fatalf("list shows %d sessions, want 2", len(list.Sessions))
			}
			for i, key := range keys {
				show := decodeJSON[out](t, mustRun(t, 0, append([]string{"show", store, "--json", key}, tc.flags...)...))
				want := tc.deadline
				if i == 1 {
					want = own
				}
				for cmd, got := range map[string]out{"list": list.Sessions[i], "show": show} {
					if d := got.LastActive.Sub(tc.active); d < -time.Millisecond || d > time.Millisecond {
						t.Errorf("%s %s: last_active %v, want %v", cmd, key, got.LastActive, tc.active)
					}
					switch {
					case want.IsZero() && got.Deadline != nil:
						t.Errorf("%s %s: deadline %v, want none (null)", cmd, key, *got.Deadline)
					case !want.IsZero() && (got.Deadline == nil || got.Deadline.Sub(want).Abs() > time.Millisecond):
						t.Errorf("%s %s: deadline %v, want %v", cmd, key, got.Deadline, want)
					}
				}
			}
			table := mustRun(t, 0, append([]string{"show", store, keys[0]}, tc.flags...)...).stdout
			wantAgo := map[bool]string{true: "(5m ago)", false: "(1h00m ago)"}[tc.active.Equal(touched)]
			if !strings.Contains(table, wantAgo) {
				t.Errorf("show's table lacks %q:\n%s", wantAgo, table)
			}
		})
	}
}

// TestLifetimeFlagsRefuseBadDurations: a negative or unparsable
// --idle-timeout or --lifetime is a usage error that names the flag.
func TestLifetimeFlagsRefuseBadDurations(t *testing.T) {
	store := "--store=bolt://" + filepath.Join(t.TempDir(), "s.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", store, "--idle-timeout=-1h"}, "--idle-timeout must not be negative"},
		{[]string{"show", store, "--lifetime=-24h", "somekey"}, "--lifetime must not be negative"},
		{[]string{"list", store, "--idle-timeout=soon"}, `invalid argument "soon" for "--idle-timeout"`},
		{[]string{"show", store, "--lifetime", "3days", "somekey"}, `invalid argument "3days" for "--lifetime"`},
	} {
		r := mustRun(t, 2, tc.args...)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr %q, want it to say %q", tc.args, r.stderr, tc.want)
		}
	}
}
