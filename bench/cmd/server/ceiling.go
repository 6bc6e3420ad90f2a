package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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
// to Redis itself with the commands sessionkit's redisstore sends for the
// same request — one HMGET to load, plus one EVALSHA of a compare-and-swap
// script (HMGET, HSET, PEXPIREAT) to save. The cookie holds the raw key.
type redisBareApp struct {
	client *redis.Client
	prefix string
}

var casScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'v')
if (cur[1] or '0') ~= ARGV[1] then return 0 end
local v = tonumber(cur[1] or '0') + 1
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', v, 'e', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return v
`)

const bareCookie = "sid"

func newRedisBare(ctx context.Context, c config) (app, func(), error) {
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, err
	}
	return &redisBareApp{client: client, prefix: c.prefix + ":bare:"}, func() { client.Close() }, nil
}

func (a *redisBareApp) wrap(h http.Handler) http.Handler { return h }

// load returns the record's key, data ("n" as decimal) and version.
func (a *redisBareApp) load(r *http.Request) (key string, n int, version string, err error) {
	c, err := r.Cookie(bareCookie)
	if err != nil {
		return "", 0, "0", nil
	}
	key = a.prefix + c.Value
	vals, err := a.client.HMGet(r.Context(), key, "d", "v", "e", "u").Result()
	if err != nil {
		return "", 0, "", err
	}
	if d, ok := vals[0].(string); ok {
		n, _ = strconv.Atoi(d)
	}
	version = "0"
	if v, ok := vals[1].(string); ok {
		version = v
	}
	return key, n, version, nil
}

func (a *redisBareApp) read(w http.ResponseWriter, r *http.Request) {
	_, n, _, err := a.load(r)
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, n)
}

func (a *redisBareApp) write(w http.ResponseWriter, r *http.Request) {
	key, n, version, err := a.load(r)
	if err != nil {
		fail(w, err)
		return
	}
	if key == "" {
		b := make([]byte, 32)
		rand.Read(b)
		id := base64.RawURLEncoding.EncodeToString(b)
		key = a.prefix + id
		http.SetCookie(w, &http.Cookie{Name: bareCookie, Value: id, Path: "/", HttpOnly: true})
	}
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	res, err := casScript.Run(r.Context(), a.client, []string{key}, version, n+1, exp).Int()
	if err == nil && res == 0 {
		err = errors.New("conflict")
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeInt(w, n+1)
}

func (a *redisBareApp) set(w http.ResponseWriter, r *http.Request, _ string) {
	a.write(w, r)
}

func (a *redisBareApp) count(w http.ResponseWriter, r *http.Request) { writeInt(w, 0) }
