package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// sessionkitApp serves the routes with a sessionkit Manager.
type sessionkitApp struct{ m *sessionkit.Manager }

func newSessionkit(m *sessionkit.Manager) *sessionkitApp {
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return &sessionkitApp{m: m}
}

func (a *sessionkitApp) wrap(h http.Handler) http.Handler { return a.m.Handler(h) }

func (a *sessionkitApp) read(w http.ResponseWriter, r *http.Request) {
	n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, n)
}

func (a *sessionkitApp) write(w http.ResponseWriter, r *http.Request) {
	s := sessionkit.From(r.Context())
	n, err := sessionkit.Get[int](s, "n")
	if err == nil {
		err = s.Set("n", n+1)
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, n+1)
}

func (a *sessionkitApp) set(w http.ResponseWriter, r *http.Request, key string) {
	if err := sessionkit.From(r.Context()).Set(key, 1); err != nil {
		fail(w, err)
		return
	}
	io.WriteString(w, "ok")
}

func (a *sessionkitApp) count(w http.ResponseWriter, r *http.Request) {
	writeInt(w, countKeys(sessionkit.From(r.Context()).Keys()))
}

func newSessionkitMem(ctx context.Context, c config) (app, func(), error) {
	st := memstore.New(memstore.Options{})
	return newSessionkit(sessionkit.New(st)), func() { st.Close() }, nil
}

func newSessionkitCookie(ctx context.Context, c config) (app, func(), error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	st, err := cookiestore.New(sessionkit.DefaultCookie().Name, secret)
	if err != nil {
		return nil, nil, err
	}
	return newSessionkit(sessionkit.NewClientSide(st)), func() {}, nil
}

func newSessionkitBolt(ctx context.Context, c config) (app, func(), error) {
	st, err := boltstore.Open(filepath.Join(c.dataDir, c.prefix+".db"))
	if err != nil {
		return nil, nil, err
	}
	return newSessionkit(sessionkit.New(st)), func() { st.Close() }, nil
}

func newSessionkitRedis(ctx context.Context, c config) (app, func(), error) {
	return newSessionkitRedisWith(ctx, c, redisstore.Options{})
}

// newSessionkitRedisAP is sessionkit-redis with Options.AutoPipeline.
func newSessionkitRedisAP(ctx context.Context, c config) (app, func(), error) {
	return newSessionkitRedisWith(ctx, c, redisstore.Options{AutoPipeline: true})
}

// newSessionkitRedisNC is sessionkit-redis with Options.NearCache (its
// defaults); it serves once the cache receives invalidations.
func newSessionkitRedisNC(ctx context.Context, c config) (app, func(), error) {
	a, closeApp, err := newSessionkitRedisWith(ctx, c, redisstore.Options{NearCache: &redisstore.NearCache{}})
	if err != nil {
		return nil, nil, err
	}
	st := a.(*sessionkitApp).m.Store().(*redisstore.Store)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s, _ := st.NearCacheStats(); s.Tracking {
			return a, closeApp, nil
		}
		if time.Now().After(deadline) {
			closeApp()
			s, _ := st.NearCacheStats()
			return nil, nil, fmt.Errorf("near cache not tracking after 10s: %s", s.LastError)
		}
	}
}

func newSessionkitRedisWith(ctx context.Context, c config, opts redisstore.Options) (app, func(), error) {
	opts.Prefix = c.prefix + ":"
	st, err := redisstore.NewFromURL(ctx, c.redisURL, opts)
	if err != nil {
		return nil, nil, err
	}
	return newSessionkit(sessionkit.New(st)), func() { st.Close() }, nil
}

func newSessionkitPG(ctx context.Context, c config) (app, func(), error) {
	st, err := pgstore.Open(ctx, c.postgresURL, pgstore.Options{Table: c.prefix + "_sessions"})
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return newSessionkit(sessionkit.New(st)), func() { st.Close() }, nil
}
