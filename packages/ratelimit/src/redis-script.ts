/**
 * The Redis side of the algorithms: one Lua script that evaluates one or more limits at once,
 * all-or-nothing, each limit with its algorithm's function. The arithmetic mirrors
 * algorithms.ts operation for operation (same order, same floor/ceil), and floats are stored
 * with 17 significant digits so they round-trip exactly: a decision is the same as on the
 * memory and SQL stores. The clock is the caller's (ARGV), which keeps the fake-clock
 * conformance suite meaningful; processes sharing a Redis need synchronized clocks (NTP).
 * (`limit()` of every algorithm but the sliding log runs a smaller script of its own, at the end.)
 *
 * KEYS, per limit: state key, block key, sequence key (sliding-log members).
 * ARGV: now, mode (0 all, 1 upTo, 2 force, 3 refund), then per limit: algorithm code, limit,
 * windowMs, burst, cost.
 * Reply, per limit: allowed (0/1), granted, remaining, resetMs, retryAfterMs, blocked (0/1).
 */
export const ALGORITHM_CODE = {
  'fixed-window': 1,
  'sliding-window': 2,
  'sliding-log': 3,
  'token-bucket': 4,
  gcra: 5,
} as const

export const LIMIT_SCRIPT = /* lua */ `
local now = tonumber(ARGV[1])
local mode = tonumber(ARGV[2])
local n = #KEYS / 3

local function fmt(x) return string.format('%.17g', x) end
local function grant(cost, available)
  if mode == 2 then return cost end
  if mode == 1 then return math.min(cost, math.max(0, available)) end
  if cost <= available then return cost end
  return 0
end
local function needed(cost)
  if mode == 1 then return math.min(1, cost) end
  return cost
end

-- Each returns: allowed, granted, remaining, resetMs, retryAfterMs, write (a function)
local function fixed(k, limit, w, burst, cost)
  local start = math.floor(now / w) * w
  local count = 0
  local h = redis.call('HMGET', k, 's', 'n')
  if h[1] and tonumber(h[1]) == start then count = tonumber(h[2]) end
  local resetMs = start + w - now
  local write = function(c) redis.call('HSET', k, 's', start, 'n', c, 'p', 0); redis.call('PEXPIRE', k, resetMs) end
  if mode == 3 then
    count = math.max(0, count - cost)
    return true, 0, math.max(0, limit - count), resetMs, 0, function() write(count) end
  end
  local g = grant(cost, limit - count)
  count = count + g
  local allowed = g > 0 or cost == 0
  local retry = 0
  if not allowed then retry = resetMs end
  return allowed, g, math.max(0, limit - count), resetMs, retry, function() write(count) end
end

local function sliding(k, limit, w, burst, cost)
  local start = math.floor(now / w) * w
  local count, previous = 0, 0
  local h = redis.call('HMGET', k, 's', 'n', 'p')
  if h[1] then
    local s = tonumber(h[1])
    if s == start then count = tonumber(h[2]); previous = tonumber(h[3])
    elseif s == start - w then previous = tonumber(h[2]) end
  end
  local elapsed = now - start
  local weighted = math.floor((previous * (w - elapsed)) / w)
  local resetMs = w - elapsed
  local ttl = 2 * w - elapsed
  local write = function(c) redis.call('HSET', k, 's', start, 'n', c, 'p', previous); redis.call('PEXPIRE', k, ttl) end
  if mode == 3 then
    count = math.max(0, count - cost)
    return true, 0, math.max(0, limit - weighted - count), resetMs, 0, function() write(count) end
  end
  local g = grant(cost, limit - weighted - count)
  count = count + g
  local allowed = g > 0 or cost == 0
  local retry = 0
  if not allowed then
    local room = limit - needed(cost) - count
    retry = resetMs
    if room >= 0 and previous > 0 then
      local at = math.floor(w - ((room + 1) * w) / previous) + 1
      if at > elapsed and at < w then retry = at - elapsed end
    end
  end
  return allowed, g, math.max(0, limit - weighted - count), resetMs, retry, function() write(count) end
end

local function slog(k, limit, w, burst, cost, seqKey)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - w)
  local size = redis.call('ZCARD', k)
  local oldest = function(size2)
    if size2 == 0 then return 0 end
    local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    return tonumber(first[2]) + w - now
  end
  if mode == 3 then
    local drop = math.min(cost, size)
    local resetMs = 0
    if size - drop > 0 then resetMs = oldest(size) end
    return true, 0, math.max(0, limit - (size - drop)), resetMs, 0, function()
      if drop > 0 then redis.call('ZREMRANGEBYRANK', k, size - drop, size - 1) end
      if size - drop > 0 then redis.call('PEXPIRE', k, w) end
    end
  end
  local g = grant(cost, limit - size)
  local allowed = g > 0 or cost == 0
  local retry = 0
  if not allowed then
    local kth = size - (limit - needed(cost))
    retry = w
    if kth >= 1 and kth <= size then
      local e = redis.call('ZRANGE', k, kth - 1, kth - 1, 'WITHSCORES')
      retry = tonumber(e[2]) + w - now
    end
  end
  local resetMs
  if size + g == 0 then resetMs = 0 elseif size == 0 then resetMs = w else resetMs = oldest(size) end
  return allowed, g, math.max(0, limit - size - g), resetMs, retry, function()
    if g > 0 then
      local seq = redis.call('INCRBY', seqKey, g)
      for i = 1, g do redis.call('ZADD', k, now, tostring(seq - g + i)) end
      redis.call('PEXPIRE', k, w)
      redis.call('PEXPIRE', seqKey, w)
    end
  end
end

local function bucket(k, limit, w, burst, cost)
  local capacity = burst
  local tokens = capacity
  local h = redis.call('HMGET', k, 't', 'u')
  if h[1] then tokens = math.min(capacity, tonumber(h[1]) + ((now - tonumber(h[2])) * limit) / w) end
  local g = 0
  if mode == 3 then tokens = math.min(capacity, tokens + cost)
  else
    g = grant(cost, math.floor(tokens))
    tokens = tokens - g
  end
  local allowed = mode == 3 or g > 0 or cost == 0
  local full = math.ceil(((capacity - tokens) * w) / limit)
  local retry = 0
  if not allowed then retry = math.ceil(((needed(cost) - tokens) * w) / limit) end
  return allowed, g, math.max(0, math.floor(tokens)), full, retry, function()
    redis.call('HSET', k, 't', fmt(tokens), 'u', now)
    redis.call('PEXPIRE', k, math.max(1, full))
  end
end

local function gcra(k, limit, w, burst, cost)
  local interval = w / limit
  local tolerance = burst * interval
  local stored = redis.call('HGET', k, 'a')
  local tat = now
  if stored then tat = tonumber(stored) end
  tat = math.max(tat, now)
  local g = 0
  if mode == 3 then tat = math.max(now, tat - cost * interval)
  else
    local available = math.floor((now + tolerance - tat) / interval)
    g = grant(cost, available)
    tat = tat + g * interval
  end
  local allowed = mode == 3 or g > 0 or cost == 0
  local resetMs = math.ceil(tat - now)
  local retry = 0
  if not allowed then retry = math.ceil(tat + needed(cost) * interval - tolerance - now) end
  return allowed, g, math.max(0, math.floor((now + tolerance - tat) / interval)), resetMs, retry, function()
    redis.call('HSET', k, 'a', fmt(tat))
    redis.call('PEXPIRE', k, math.max(1, resetMs))
  end
end

local impl = { fixed, sliding, slog, bucket, gcra }
local results = {}
local writes = {}
local all = true
for i = 1, n do
  local base = 2 + (i - 1) * 5
  local alg = tonumber(ARGV[base + 1])
  local limit, w, burst, cost = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5])
  local k = KEYS[(i - 1) * 3 + 1]
  local blocked = redis.call('PTTL', KEYS[(i - 1) * 3 + 2])
  if blocked > 0 and mode < 2 then
    results[i] = { 0, 0, 0, blocked, blocked, 1 }
    all = false
  else
    local allowed, g, remaining, resetMs, retry, write = impl[alg](k, limit, w, burst, cost, KEYS[(i - 1) * 3 + 3])
    if not allowed then all = false end
    results[i] = { allowed and 1 or 0, g, remaining, resetMs, retry, 0 }
    writes[i] = write
  end
end
if all or (n == 1 and mode ~= 0) then
  for i = 1, n do if writes[i] then writes[i]() end end
else
  for i = 1, n do
    if results[i][1] == 1 then results[i][3] = results[i][3] + results[i][2]; results[i][2] = 0 end
  end
end
return results
`

/** KEYS[2]: blocks a key for ms (PX), whatever its state. */
export const BLOCK_SCRIPT = /* lua */ `
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) else redis.call('DEL', KEYS[1]) end
return 1
`

/**
 * How each small script starts: the mode from ARGV[modeArg] (MODE_CODE), and for a check (all,
 * upTo; not a penalty's force or a refund) minus the block's remaining ms when the key is
 * blocked; `k` is the state key.
 */
const smallScriptStart = (modeArg: number): string => `
local mode = tonumber(ARGV[${modeArg}])
if mode < 2 then
  local blocked = redis.call('PTTL', KEYS[2])
  if blocked > 0 then return -blocked end
end
local k = KEYS[1]
`

/**
 * The hot path of `limit()` on a fixed window: one key's check without the general script's
 * machinery (no per-algorithm closures, no tables of results, no multi-limit bookkeeping). It
 * reads and writes the same state as the general script (hash fields s, n, p; the block key),
 * so either script continues what the other wrote. The caller computes the decision from the
 * count it returns with the same function the memory store runs (algorithms.ts), so only the
 * write is decided here, with the same grant rule.
 *
 * KEYS: state key, block key. ARGV: window start, ms to the window's end, mode, limit, cost.
 * Reply: the window's count before this call (nothing written when refused in mode all), or
 * minus the block's remaining ms when the key is blocked.
 *
 * A write in the same window adds to n (HINCRBY) and leaves the expiry alone: the window's first
 * write set it to the window's end, which every later write of that window would set again.
 */
export const FIXED_WINDOW_SCRIPT = /* lua */ `${smallScriptStart(3)}local start = tonumber(ARGV[1])
local h = redis.call('HMGET', k, 's', 'n')
local count = 0
local same = h[1] and tonumber(h[1]) == start
if same then count = tonumber(h[2]) end
local cost = tonumber(ARGV[5])
local after
if mode == 3 then after = math.max(0, count - cost)
elseif mode == 2 then after = count + cost
else
  local available = tonumber(ARGV[4]) - count
  if mode == 1 then after = count + math.min(cost, math.max(0, available))
  elseif cost <= available then after = count + cost
  else return count end
end
if not same then
  redis.call('HSET', k, 's', start, 'n', after, 'p', 0)
  redis.call('PEXPIRE', k, ARGV[2])
elseif after ~= count then
  redis.call('HINCRBY', k, 'n', after - count)
end
return count
`

/**
 * The hot path of `limit()` on a sliding window, as FIXED_WINDOW_SCRIPT is for a fixed one: the
 * same hash (s, n, p) as the general script, the count applied here with the same grant rule
 * over the weighted previous window, the decision made by the caller from the state returned.
 *
 * KEYS: state key, block key. ARGV: window start, window ms, ms since the window started, mode,
 * limit, cost. Reply: {count, previous} of this window before the call (nothing written when
 * refused in mode all), or minus the block's remaining ms when the key is blocked.
 */
export const SLIDING_WINDOW_SCRIPT = /* lua */ `${smallScriptStart(4)}local start, w, elapsed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', k, 's', 'n', 'p')
local count, previous = 0, 0
local same = false
if h[1] then
  local s = tonumber(h[1])
  if s == start then count = tonumber(h[2]); previous = tonumber(h[3]); same = true
  elseif s == start - w then previous = tonumber(h[2]) end
end
local cost = tonumber(ARGV[6])
local after
if mode == 3 then after = math.max(0, count - cost)
elseif mode == 2 then after = count + cost
else
  local available = tonumber(ARGV[5]) - math.floor((previous * (w - elapsed)) / w) - count
  if mode == 1 then after = count + math.min(cost, math.max(0, available))
  elseif cost <= available then after = count + cost
  else return { count, previous } end
end
if not same then
  redis.call('HSET', k, 's', start, 'n', after, 'p', previous)
  redis.call('PEXPIRE', k, 2 * w - elapsed)
elseif after ~= count then
  redis.call('HINCRBY', k, 'n', after - count)
end
return { count, previous }
`

/**
 * The hot path of `limit()` on a token bucket: the general script's bucket (hash fields t, u)
 * without its machinery. The tokens are computed and written here with the same arithmetic
 * (17 significant digits stored); the caller decides from the fields returned as stored.
 *
 * KEYS: state key, block key. ARGV: now, mode, limit, window ms, burst, cost.
 * Reply: {t, u} as stored before the call (nil when absent; nothing written when refused in
 * mode all), or minus the block's remaining ms when the key is blocked.
 */
export const TOKEN_BUCKET_SCRIPT = /* lua */ `${smallScriptStart(2)}local now, limit, w, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local h = redis.call('HMGET', k, 't', 'u')
local tokens = capacity
if h[1] then tokens = math.min(capacity, tonumber(h[1]) + ((now - tonumber(h[2])) * limit) / w) end
if mode == 3 then tokens = math.min(capacity, tokens + cost)
else
  local available = math.floor(tokens)
  local g = cost
  if mode == 1 then g = math.min(cost, math.max(0, available))
  elseif mode == 0 and cost > available then
    if cost ~= 0 then return h end
    g = 0
  end
  tokens = tokens - g
end
redis.call('HSET', k, 't', string.format('%.17g', tokens), 'u', now)
redis.call('PEXPIRE', k, math.max(1, math.ceil(((capacity - tokens) * w) / limit)))
return h
`

/**
 * The hot path of `limit()` on GCRA: the general script's theoretical arrival time (hash field
 * a) without its machinery, computed and written with the same arithmetic.
 *
 * KEYS: state key, block key. ARGV: now, mode, limit, window ms, burst, cost.
 * Reply: {a} as stored before the call (nil when absent; nothing written when refused in mode
 * all), or minus the block's remaining ms when the key is blocked.
 */
export const GCRA_SCRIPT = /* lua */ `${smallScriptStart(2)}local now, limit, w, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local interval = w / limit
local stored = redis.call('HGET', k, 'a')
local tat = now
if stored then tat = tonumber(stored) end
tat = math.max(tat, now)
if mode == 3 then tat = math.max(now, tat - cost * interval)
else
  local available = math.floor((now + burst * interval - tat) / interval)
  local g = cost
  if mode == 1 then g = math.min(cost, math.max(0, available))
  elseif mode == 0 and cost > available then
    if cost ~= 0 then return { stored } end
    g = 0
  end
  tat = tat + g * interval
end
redis.call('HSET', k, 'a', string.format('%.17g', tat))
redis.call('PEXPIRE', k, math.max(1, math.ceil(tat - now)))
return { stored }
`
