// Package redislua holds the Lua scripts of store/redisstore, so that the
// benchmark's hand-written Redis ceiling (bench/cmd/server) runs the very
// same text as the store.
//
// The Lua scripts below each touch the keys of one session (KEYS[1], the
// record, and KEYS[2], its released-coverage key) or one user (KEYS[1],
// the index, and KEYS[2], its high-water marks); the keys of one script
// share a hash tag, so the scripts run unchanged on a single node, behind
// Sentinel and in Cluster. Times are Unix milliseconds; "now" is the
// server's clock (TIME), the same clock Redis expires keys by. Numbers are
// formatted with %d because Lua's default number formatting would round
// 16-digit versions.
//
// Record hash fields: d data, v version, e expiry (ms), u user key,
// x index coverage (ms): the user's index entry for this record is known
// to have a score of at least x, so the record may live until x without
// touching the index again.
//
// The released-coverage key holds the highest coverage any record under
// this session key gave up (by moving to another user, logging out,
// ending or being deleted) that is still in the future. Giving up a
// coverage sends a conditional removal of that score to the user's index;
// a coverage offered by the index before that removal was sent must
// therefore never be stored again, or the removal could take away the
// entry the new record relies on. Save and Touch accept an offered
// coverage only above the released one, and otherwise ask for a new index
// entry above it.
package redislua

// Now is shared by the scripts: server time in ms and in µs.
const Now = `
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowus = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// Release defines release(coverage), which raises the released
// coverage (KEYS[2]) to coverage if that is in the future, and
// released(), which returns it ("" for none), and accepts(offered),
// which reports whether an offered coverage is above it. It needs Now.
const Release = `
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
`

// Save is Save's compare-and-swap.
//
// KEYS: record, released coverage.
// ARGV: expected version ("0" = absent), data, expiry ms, user key,
// offered coverage ("" = none; valid for ARGV[4]'s index).
// Reply: {1, version, released user, released coverage} stored, where the
// released user ("" for none) is one whose index entry the record no
// longer needs (it moved to another user, logged out or ended);
// {0} version mismatch; {2, floor} the user's index must first cover the
// expiry with an entry scored above floor ("" = any).
const Save = Now + Release + `
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
`

// Touch sets the expiry of a live record without rewriting its data.
//
// KEYS: record, released coverage.
// ARGV: expiry ms, user key the offered coverage is for ("" = none),
// offered coverage.
// Reply: {1} done; {1, user, coverage} done by deleting the record (the
// expiry has passed), releasing its index entry; {0} no live record;
// {2, user, floor} the user's index must first cover the expiry with an
// entry scored above floor ("" = any).
const Touch = Now + Release + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'u', 'x')
if not cur[1] then return {0} end
local exp = tonumber(ARGV[1])
if exp <= nowms then
  redis.call('DEL', KEYS[1])
  release(cur[3])
  return {1, cur[2] or '', cur[3] or ''}
end
if cur[2] and cur[2] ~= '' then
  local cov = tonumber(cur[3] or '-1')
  if ARGV[2] == cur[2] and accepts(ARGV[3]) then cov = math.max(cov, tonumber(ARGV[3])) end
  if exp > cov then return {2, cur[2], released()} end
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'x', string.format('%d', cov))
else
  redis.call('HSET', KEYS[1], 'e', ARGV[1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return {1}
`

// Delete removes a record.
//
// KEYS: record, released coverage.
// ARGV[1] is "" to delete unconditionally, or a user key to delete only a
// record owned by that user.
// Reply: {1, user, coverage} deleted (user and coverage of the record);
// {0} nothing deleted.
const Delete = Now + Release + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'u', 'x')
if not cur[1] then return {0} end
if ARGV[1] ~= '' and cur[2] ~= ARGV[1] then return {0} end
redis.call('DEL', KEYS[1])
release(cur[3])
return {1, cur[2] or '', cur[3] or ''}
`

// IndexAdd adds a member to a user's index (KEYS[1], a sorted set
// scored by coverage ms), after pruning members whose score has passed.
//
// ARGV: member (record key), wanted score. Every score ever given to a
// member is greater than any it had before: KEYS[2] (same slot) keeps each
// member's highest score so far, and a wanted score at or below it is
// raised past it. A conditional removal (Unindex) still pending for
// an old score can therefore never match, and never remove, the entry a
// newer record relies on — not even after the old entry was removed and
// the member added again. Both sets expire with their highest score; a
// high-water mark in the past can go, since every record it covered has
// expired and every new score is in the future.
// Reply: the member's score now.
const IndexAdd = Now + `
local past = '(' .. string.format('%d', nowms)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', past)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', past)
local s = tonumber(ARGV[2])
local hw = redis.call('ZSCORE', KEYS[2], ARGV[1])
if hw and tonumber(hw) >= s then s = tonumber(hw) + 1 end
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if old and tonumber(old) >= s then s = tonumber(old) + 1 end
local ss = string.format('%d', s)
redis.call('ZADD', KEYS[1], ss, ARGV[1])
redis.call('ZADD', KEYS[2], ss, ARGV[1])
for i = 1, 2 do
  local top = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[i], string.format('%d', tonumber(top[2])))
end
return ss
`

// Unindex removes members from a user's index, each only if its
// score still equals the given one. ARGV: member, score, member, score...
// Reply: the number removed.
const Unindex = `
local n = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
`

// Members prunes a user's index by score and returns its members.
const Members = Now + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', nowms))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`
