package quota

import "github.com/redis/go-redis/v9"

// The scripts run on Redis's clock (TIME), so replicas with skewed clocks
// share one budget, and each is one round trip: EVALSHA, with a one-off
// EVAL when the server's script cache was flushed. A GCRA cell is stored
// as "tat:per", per being the interval (or byte rate) it was charged at, so
// a changed limit rescales the outstanding debt exactly as Memory does.
// Times are integer microseconds, well inside the 2^53 a Lua number holds exactly; they are
// written with %.0f because tostring would round them to 14 digits.
// redis.replicate_commands makes writes after TIME legal on Redis < 5 and
// is a no-op on newer servers. The GCRA follows go-redis/redis_rate.

// admitScript decides one request against every rate dimension and
// charges all of them or none.
//
// KEYS: 1 global, 2 tenant, 3 key, 4 host (request-rate tats), 5 bandwidth tat.
// ARGV: interval and tolerance of dimensions 1..4 (0 interval: unlimited),
// then the bandwidth tolerance (0: unlimited) and bytes per second.
// Returns {1, 0, 0} or {0, dimension, wait µs} for the longest wait.
var admitScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function read(key)
  local v = redis.call('GET', key)
  if not v then return nil, 0 end
  local a, b = string.match(v, '^(%d+):(%d+)$')
  if not a then return nil, 0 end
  return tonumber(a), tonumber(b)
end
local function rescale(tat, now, num, den)
  if tat <= now or num == den or den == 0 or num == 0 then return tat end
  return now + math.floor((tat - now) * num / den)
end
local best, bestWait = 0, 0
local nexts, ttls = {}, {}
for i = 1, 4 do
  local iv = tonumber(ARGV[2*i-1])
  if iv > 0 then
    local tat, per = read(KEYS[i])
    if tat and per ~= iv then
      -- Stored even on refusal: a conversion charges nothing, and
      -- converting the same debt again later would drain it at the
      -- wrong speed.
      tat = rescale(tat, now, iv, per)
      if tat > now then
        redis.call('SET', KEYS[i], string.format('%.0f:%.0f', tat, iv), 'PX', math.ceil((tat - now) / 1000) + 1)
      end
    end
    tat = tat or now
    if tat < now then tat = now end
    local nt = tat + iv
    local wait = nt - tonumber(ARGV[2*i]) - now
    if wait > 0 then
      if best == 0 or wait > bestWait then best, bestWait = i, wait end
    else
      nexts[i] = string.format('%.0f:%.0f', nt, iv)
      ttls[i] = math.ceil((nt - now) / 1000) + 1
    end
  end
end
local bwtol = tonumber(ARGV[9])
if bwtol > 0 then
  local tat, per = read(KEYS[5])
  local bps = tonumber(ARGV[10])
  if tat and per ~= bps then
    tat = rescale(tat, now, per, bps)
    if tat > now then
      redis.call('SET', KEYS[5], string.format('%.0f:%.0f', tat, bps), 'PX', math.ceil((tat - now) / 1000) + 1)
    end
  end
  if tat then
    local wait = tat - now - bwtol
    if wait > 0 and (best == 0 or wait > bestWait) then best, bestWait = 5, wait end
  end
end
if best > 0 then return {0, best, bestWait} end
for i = 1, 4 do
  if nexts[i] then redis.call('SET', KEYS[i], nexts[i], 'PX', ttls[i]) end
end
return {1, 0, 0}
`)

// transferScript charges bytes (as µs of budget) to a bandwidth cell that
// may run into debt and returns the pause in µs.
//
// KEYS: 1 bandwidth cell. ARGV: cost µs, tolerance µs, bytes per second.
var transferScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function read(key)
  local v = redis.call('GET', key)
  if not v then return nil, 0 end
  local a, b = string.match(v, '^(%d+):(%d+)$')
  if not a then return nil, 0 end
  return tonumber(a), tonumber(b)
end
local function rescale(tat, now, num, den)
  if tat <= now or num == den or den == 0 or num == 0 then return tat end
  return now + math.floor((tat - now) * num / den)
end
local bps = tonumber(ARGV[3])
local tat, per = read(KEYS[1])
tat = rescale(tat or now, now, per, bps)
if tat < now then tat = now end
local nt = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f:%.0f', nt, bps), 'PX', math.ceil((nt - now) / 1000) + 1)
local pause = nt - now - tonumber(ARGV[2])
if pause < 0 then pause = 0 end
return pause
`)

// acquireScript takes a concurrency lease: a member of the tenant's sorted
// set scored by its expiry in ms. Expired leases (a dead replica's) are
// dropped first, so their slots come back.
//
// KEYS: 1 lease set. ARGV: max, ttl ms, lease id.
// Returns {1, in use} or {0, in use}.
var acquireScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return {0, n} end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, n + 1}
`)

// releaseScript frees a lease and returns how many remain in use.
//
// KEYS: 1 lease set. ARGV: lease id.
var releaseScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`)

// refreshScript extends the leases still held by this replica. XX never
// resurrects a lease that was released (or expired) meanwhile: a release
// racing a refresh must not leave a phantom slot behind.
//
// KEYS: lease sets. ARGV: ttl ms, then one lease id per key.
var refreshScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return #KEYS
`)
