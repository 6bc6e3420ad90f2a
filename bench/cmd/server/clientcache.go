package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/sessionkit/sessionkit/internal/redislua"
)

// The client-side-cache ceilings measure the two ready-made ways of
// answering repeated reads without a Redis round trip, with no session
// library around them, against which redisstore's NearCache was chosen
// (see store/redisstore's package documentation): go-redis's own
// client-side cache (experimental since v9.22, single node only) and
// rueidis's. Each sends the commands redis-bare sends — HMGET to load,
// the compare-and-swap script to save — with the load going through the
// cache. A save whose compare-and-swap fails because the cache still held
// the previous version (its invalidation not yet applied) reads the
// record again from Redis and retries once.

// cachedLoader is what differs between the two ceilings.
type cachedLoader interface {
	// load returns HMGET key d v e u, through the cache if cached.
	load(ctx context.Context, key string, cached bool) ([]any, error)
	// save runs the compare-and-swap script and reports whether it stored.
	save(ctx context.Context, keys []string, version string, data []byte, exp int64) (bool, error)
}

type clientCacheApp struct {
	l      cachedLoader
	prefix string
}

func (a *clientCacheApp) wrap(h http.Handler) http.Handler { return h }

func (a *clientCacheApp) get(r *http.Request, cached bool) (key string, rec bareRecord, version string, err error) {
	c, err := r.Cookie(bareCookie)
	if err != nil {
		return "", rec, "0", nil
	}
	key = a.prefix + c.Value + "}"
	vals, err := a.l.load(r.Context(), key, cached)
	if err != nil {
		return "", rec, "", err
	}
	version = "0"
	if len(vals) == 4 {
		if d, ok := vals[0].(string); ok {
			if err := json.Unmarshal([]byte(d), &rec); err != nil {
				return "", rec, "", err
			}
		}
		if v, ok := vals[1].(string); ok {
			version = v
		}
	}
	return key, rec, version, nil
}

func (a *clientCacheApp) read(w http.ResponseWriter, r *http.Request) {
	_, rec, _, err := a.get(r, true)
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, rec.N)
}

func (a *clientCacheApp) write(w http.ResponseWriter, r *http.Request) {
	for attempt := range 2 {
		key, rec, version, err := a.get(r, attempt == 0)
		if err != nil {
			fail(w, err)
			return
		}
		if key == "" {
			b := make([]byte, 32)
			rand.Read(b)
			id := base64.RawURLEncoding.EncodeToString(b)
			key = a.prefix + id + "}"
			http.SetCookie(w, &http.Cookie{Name: bareCookie, Value: id, Path: "/", HttpOnly: true})
		}
		rec.N++
		data, _ := json.Marshal(rec)
		released := strings.Replace(key, ":bare:{", ":bare:r{", 1)
		ok, err := a.l.save(r.Context(), []string{key, released}, version, data, time.Now().Add(24*time.Hour).UnixMilli())
		if err != nil {
			fail(w, err)
			return
		}
		if ok {
			writeInt(w, rec.N)
			return
		}
	}
	fail(w, errors.New("conflict"))
}

func (a *clientCacheApp) set(w http.ResponseWriter, r *http.Request, _ string) { a.write(w, r) }
func (a *clientCacheApp) count(w http.ResponseWriter, r *http.Request)         { writeInt(w, 0) }

// goRedisCSC is go-redis's client-side cache (ClientSideCacheConfig) on a
// single node; plain is a client without it, for reads that must not be
// cached.
type goRedisCSC struct{ cached, plain *redis.Client }

func newRedisBareCSC(ctx context.Context, c config) (app, func(), error) {
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	plain := redis.NewClient(opts)
	copts := *opts
	copts.Protocol = 3
	copts.ClientSideCacheConfig = &redis.ClientSideCacheConfig{MaxEntries: 10_000}
	cached := redis.NewClient(&copts)
	if err := cached.Ping(ctx).Err(); err != nil {
		cached.Close()
		plain.Close()
		return nil, nil, err
	}
	return &clientCacheApp{l: goRedisCSC{cached, plain}, prefix: c.prefix + ":bare:{"},
		func() { cached.Close(); plain.Close() }, nil
}

func (g goRedisCSC) load(ctx context.Context, key string, cached bool) ([]any, error) {
	c := g.plain
	if cached {
		c = g.cached
	}
	return c.HMGet(ctx, key, "d", "v", "e", "u").Result()
}

func (g goRedisCSC) save(ctx context.Context, keys []string, version string, data []byte, exp int64) (bool, error) {
	res, err := saveScript.Run(ctx, g.cached, keys, version, data, exp, "", "").Slice()
	if err != nil {
		return false, err
	}
	return len(res) > 0 && res[0] == int64(1), nil
}

// rueidisCSC is rueidis's client-side cache (DoCache); rueidis pipelines
// concurrent commands on one connection by itself.
type rueidisCSC struct{ c rueidis.Client }

var rueidisSave = rueidis.NewLuaScript(redislua.Save)

func newRedisBareRueidis(ctx context.Context, c config) (app, func(), error) {
	opts, err := rueidis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	client, err := rueidis.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	return &clientCacheApp{l: rueidisCSC{client}, prefix: c.prefix + ":bare:{"}, client.Close, nil
}

func (r rueidisCSC) load(ctx context.Context, key string, cached bool) ([]any, error) {
	var res rueidis.RedisResult
	if cached {
		res = r.c.DoCache(ctx, r.c.B().Hmget().Key(key).Field("d", "v", "e", "u").Cache(), time.Hour)
	} else {
		res = r.c.Do(ctx, r.c.B().Hmget().Key(key).Field("d", "v", "e", "u").Build())
	}
	msgs, err := res.ToArray()
	if err != nil {
		return nil, err
	}
	out := make([]any, len(msgs))
	for i, m := range msgs {
		if s, err := m.ToString(); err == nil {
			out[i] = s
		}
	}
	return out, nil
}

func (r rueidisCSC) save(ctx context.Context, keys []string, version string, data []byte, exp int64) (bool, error) {
	res, err := rueidisSave.Exec(ctx, r.c, keys, []string{version, string(data), strconv.FormatInt(exp, 10), "", ""}).ToArray()
	if err != nil {
		return false, err
	}
	if len(res) == 0 {
		return false, nil
	}
	n, err := res[0].AsInt64()
	return err == nil && n == 1, nil
}
