package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/boj/redistore"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// scsApp serves the routes with alexedwards/scs v2 (its defaults: gob
// codec, LoadAndSave middleware).
type scsApp struct{ sm *scs.SessionManager }

func (a *scsApp) wrap(h http.Handler) http.Handler { return a.sm.LoadAndSave(h) }

func (a *scsApp) read(w http.ResponseWriter, r *http.Request) {
	writeInt(w, a.sm.GetInt(r.Context(), "n"))
}

func (a *scsApp) write(w http.ResponseWriter, r *http.Request) {
	n := a.sm.GetInt(r.Context(), "n") + 1
	a.sm.Put(r.Context(), "n", n)
	writeInt(w, n)
}

func (a *scsApp) set(w http.ResponseWriter, r *http.Request, key string) {
	a.sm.Put(r.Context(), key, 1)
	io.WriteString(w, "ok")
}

func (a *scsApp) count(w http.ResponseWriter, r *http.Request) {
	writeInt(w, countKeys(a.sm.Keys(r.Context())))
}

func newSCSMem(ctx context.Context, c config) (app, func(), error) {
	st := memstore.New()
	sm := scs.New()
	sm.Store = st
	return &scsApp{sm: sm}, st.StopCleanup, nil
}

func newSCSRedis(ctx context.Context, c config) (app, func(), error) {
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, err
	}
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(client, c.prefix+":scs:")
	return &scsApp{sm: sm}, func() { client.Close() }, nil
}

// gorillaApp serves the routes with gorilla/sessions: the handler gets the
// session from the store and saves it explicitly after changing it.
type gorillaApp struct{ store sessions.Store }

const gorillaName = "session"

func (a *gorillaApp) wrap(h http.Handler) http.Handler { return h }

func (a *gorillaApp) session(w http.ResponseWriter, r *http.Request) (*sessions.Session, bool) {
	s, err := a.store.Get(r, gorillaName)
	if err != nil && s == nil {
		fail(w, err)
		return nil, false
	}
	// A cookie that does not decode yields a new session and an error;
	// like most applications, carry on with the new session.
	return s, true
}

func (a *gorillaApp) read(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	n, _ := s.Values["n"].(int)
	writeInt(w, n)
}

func (a *gorillaApp) write(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	n, _ := s.Values["n"].(int)
	s.Values["n"] = n + 1
	if err := s.Save(r, w); err != nil {
		fail(w, err)
		return
	}
	writeInt(w, n+1)
}

func (a *gorillaApp) set(w http.ResponseWriter, r *http.Request, key string) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	s.Values[key] = 1
	if err := s.Save(r, w); err != nil {
		fail(w, err)
		return
	}
	io.WriteString(w, "ok")
}

func (a *gorillaApp) count(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	keys := make([]string, 0, len(s.Values))
	for k := range s.Values {
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
	}
	writeInt(w, countKeys(keys))
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func newGorillaCookie(ctx context.Context, c config) (app, func(), error) {
	st := sessions.NewCookieStore(randomKey(), randomKey()[:32])
	st.Options.HttpOnly = true
	return &gorillaApp{store: st}, func() {}, nil
}

func newGorillaRedis(ctx context.Context, c config) (app, func(), error) {
	u, err := url.Parse(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Host == "" {
		return nil, nil, fmt.Errorf("no Redis address in %q", c.redisURL)
	}
	st, err := redistore.NewRediStore(64, "tcp", u.Host, "", "", randomKey())
	if err != nil {
		return nil, nil, err
	}
	st.SetKeyPrefix(c.prefix + ":gorilla:")
	st.Options.HttpOnly = true
	return &gorillaApp{store: st}, func() { st.Close() }, nil
}
