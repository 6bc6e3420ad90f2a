package express_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// nativeApp is the Go service after the move: a native Manager (hashed
// keys, 256-bit IDs, JSONCodec, auth's default user field) on store, that
// takes over express sessions through imp; opts change the Manager.
func nativeApp(t *testing.T, store sessionkit.Store, imp sessionkit.Importer, opts ...func(*sessionkit.Manager)) *httptest.Server {
	t.Helper()
	m := sessionkit.New(store)
	m.Import = imp
	m.Lifetime = 30 * 24 * time.Hour // 30 days: longer than any express maxAge in the tests
	for _, o := range opts {
		o(m)
	}
	a := auth.New(m, func(u user) string { return strconv.Itoa(u.ID) },
		func(_ context.Context, key string) (user, error) {
			id, err := strconv.Atoi(key)
			u, ok := users[id]
			if err != nil || !ok {
				return user{}, auth.ErrUserNotFound
			}
			return u, nil
		})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var name any
		if u, err := a.User(r); err == nil {
			name = u.Name
		} else if !errors.Is(err, auth.ErrNotAuthenticated) {
			http.Error(w, err.Error(), 500)
			return
		}
		s := sessionkit.From(r.Context())
		values := map[string]json.RawMessage{}
		for _, k := range s.Keys() {
			v, err := sessionkit.Get[json.RawMessage](s, k)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			values[k] = v
		}
		writeJSON(w, map[string]any{
			"user":    name,
			"owner":   s.UserKey(),
			"values":  values,
			"stored":  !s.IsNew(),
			"idle":    s.IdleTimeout().String(),
			"created": s.Created().UnixMilli(),
		})
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), json.RawMessage(r.URL.Query().Get("v"))); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	// The per-user list and revocation, as a "your devices" page uses them.
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Sessions(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"count": len(list)})
	})
	mux.HandleFunc("POST /revoke-all", func(w http.ResponseWriter, r *http.Request) {
		n, err := a.RevokeAll(r.Context(), r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"revoked": n})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Logout(w, r); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	srv := httptest.NewServer(a.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}
