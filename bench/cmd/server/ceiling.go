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

// saveScript is the text of store/redisstore's saveScript (scripts.go),
// copied so that the ceiling makes Redis do the same work; keep the two
// identical.
var saveScript = redis.NewScript(`
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowus = tonumber(t[1]) * 1000000 + tonumber(t[2])
` + `
local function released()
  return redis.call('GET', KEYS[2]) or ''
end
local function release(c)
  if not c or c == '' or tonumber(c) <= nowms then return end
  local f = redis.call('GET', KEYS[2])
  if not f or tonumber(f) < tonumber(c) then
    redis.call('SET', KEYS[2], c)
    redis.call('PEXPIREAT', KEYS[2], c)
  end
end
local function accepts(offered)
  if offered == '' then return false end
  local f = released()
  return f == '' or tonumber(offered) > tonumber(f)
end
` + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'u', 'x')
if (cur[1] or '0') ~= ARGV[1] then return {0} end
local exp = tonumber(ARGV[3])
local user = ARGV[4]
local cov = -1
if user ~= '' and exp > nowms then
  if cur[2] == user and cur[3] then cov = tonumber(cur[3]) end
  if accepts(ARGV[5]) then cov = math.max(cov, tonumber(ARGV[5])) end
  if exp > cov then return {2, released()} end
end
local v = nowus
if cur[1] then v = math.max(v, tonumber(cur[1]) + 1) end
local vs = string.format('%d', v)
local reluser, relcov = '', ''
if cur[2] and cur[2] ~= '' and (cur[2] ~= user or exp <= nowms) then
  reluser, relcov = cur[2], cur[3] or ''
  release(relcov)
end
if exp <= nowms then
  redis.call('DEL', KEYS[1])
  return {1, vs, reluser, relcov}
end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', vs, 'e', ARGV[3], 'u', user)
if cov >= 0 then
  redis.call('HSET', KEYS[1], 'x', string.format('%d', cov))
else
  redis.call('HDEL', KEYS[1], 'x')
end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {1, vs, reluser, relcov}
`)

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
