package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/redislua"
)

// bareApp is the ceiling without sessions: the same routes, no state.
type bareApp struct{}

func newBare(ctx context.Context, c config) (app, func(), error) { return bareApp{}, func() {}, nil }

func (bareApp) wrap(h http.Handler) http.Handler                     { return h }
func (bareApp) read(w http.ResponseWriter, r *http.Request)          { writeInt(w, 0) }
func (bareApp) write(w http.ResponseWriter, r *http.Request)         { writeInt(w, 1) }
func (bareApp) set(w http.ResponseWriter, r *http.Request, _ string) { io.WriteString(w, "ok") }
func (bareApp) count(w http.ResponseWriter, r *http.Request)         { writeInt(w, 0) }

// redisBareApp is the Redis ceiling: no session library, the handler talks
// to Redis itself and sends exactly the commands sessionkit's redisstore
// sends for the same request — one HMGET to load; to save, the same
// compare-and-swap script (EVALSHA) — and JSON-encodes its one value, as
// a hand-written application would. The cookie holds the raw key.
type redisBareApp struct {
	client redis.Cmdable
	prefix string
}

// saveScript is store/redisstore's compare-and-swap script, the very same
// text, so that the ceiling makes Redis do the same work.
var saveScript = redis.NewScript(redislua.Save)

const bareCookie = "sid"

type bareRecord struct {
	N int `json:"n"`
}

func newRedisBare(ctx context.Context, c config) (app, func(), error) {
	return newRedisBareWith(ctx, c, false)
}

// newRedisBareAP is the Redis ceiling for sessionkit-redis-ap: the same
// commands, sent through go-redis's AutoPipeliner (the deferred face, as redisstore uses it).
func newRedisBareAP(ctx context.Context, c config) (app, func(), error) {
	return newRedisBareWith(ctx, c, true)
}

func newRedisBareWith(ctx context.Context, c config, autoPipeline bool) (app, func(), error) {
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, err
	}
	a := &redisBareApp{client: client, prefix: c.prefix + ":bare:{"}
	if !autoPipeline {
		return a, func() { client.Close() }, nil
	}
	ap, err := client.AsyncAutoPipeline()
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	a.client = ap
	return a, func() { ap.Close(); client.Close() }, nil
}

func (a *redisBareApp) wrap(h http.Handler) http.Handler { return h }

// load returns the record's key, value and version ("0" when absent).
func (a *redisBareApp) load(r *http.Request) (key string, rec bareRecord, version string, err error) {
	c, err := r.Cookie(bareCookie)
	if err != nil {
		return "", rec, "0", nil
	}
	key = a.prefix + c.Value + "}"
	vals, err := a.client.HMGet(r.Context(), key, "d", "v", "e", "u").Result()
	if err != nil {
		return "", rec, "", err
	}
	version = "0"
	if d, ok := vals[0].(string); ok {
		if err := json.Unmarshal([]byte(d), &rec); err != nil {
			return "", rec, "", err
		}
	}
	if v, ok := vals[1].(string); ok {
		version = v
	}
	return key, rec, version, nil
}

func (a *redisBareApp) read(w http.ResponseWriter, r *http.Request) {
	_, rec, _, err := a.load(r)
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, rec.N)
}

func (a *redisBareApp) write(w http.ResponseWriter, r *http.Request) {
	key, rec, version, err := a.load(r)
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
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	// The second key is where redisstore keeps a session's released index
	// coverage (same hash tag); this request never touches it.
	released := strings.Replace(key, ":bare:{", ":bare:r{", 1)
	res, err := saveScript.Run(r.Context(), a.client, []string{key, released}, version, data, exp, "", "").Slice()
	if err == nil && (len(res) == 0 || res[0] != int64(1)) {
		err = errors.New("conflict")
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, rec.N)
}

func (a *redisBareApp) set(w http.ResponseWriter, r *http.Request, _ string) {
	a.write(w, r)
}

func (a *redisBareApp) count(w http.ResponseWriter, r *http.Request) { writeInt(w, 0) }
