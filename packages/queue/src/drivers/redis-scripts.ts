// The Lua scripts of the redis queue driver. Every key of one queue shares the hash tag
// `{<namespace>/<queue>}`, so each script touches one slot and runs atomically on a Cluster too.
// KEYS[1] is the queue's key prefix (`bq:{ns/q}:`); job hashes are `<prefix>j:<id>`.
//
// Layout: wait (zset, score (1e6 - priority) * 2^32 + seq: priority first, then arrival),
// delayed (zset by run time), active (zset by lease end), done / cancelled / dead (zsets by
// finishing time, pruned by age and count), failed (set: waiting for a retry), dedupe (hash
// key -> id), groups (hash group -> in flight), mark (list: wake-ups for blocked consumers).

const common = `
local P = KEYS[1]
local function score(pr, sq) return (1000000 - tonumber(pr)) * 4294967296 + tonumber(sq) end
local function nextseq() return redis.call('INCR', P .. 'seq') % 4294967296 end
local function towait(id, keep)
  local j = P .. 'j:' .. id
  local sq = keep and redis.call('HGET', j, 'sq')
  if not sq then sq = nextseq(); redis.call('HSET', j, 'sq', sq) end
  redis.call('ZADD', P .. 'wait', score(redis.call('HGET', j, 'pr'), sq), id)
end
local function ungroup(j)
  local g = redis.call('HGET', j, 'g')
  if g and g ~= '' then
    if redis.call('HINCRBY', P .. 'groups', g, -1) <= 0 then redis.call('HDEL', P .. 'groups', g) end
  end
end
local function undedupe(j, id)
  local dk = redis.call('HGET', j, 'dk')
  if dk and dk ~= '' and redis.call('HGET', P .. 'dedupe', dk) == id then redis.call('HDEL', P .. 'dedupe', dk) end
end
local function wake(n)
  for i = 1, math.min(n, 64) do redis.call('LPUSH', P .. 'mark', '1') end
  redis.call('LTRIM', P .. 'mark', 0, 63)
end
local function prune(set, before, max)
  local old = redis.call('ZRANGEBYSCORE', P .. set, '-inf', before, 'LIMIT', 0, 500)
  for _, id in ipairs(old) do redis.call('DEL', P .. 'j:' .. id) end
  if #old > 0 then redis.call('ZREM', P .. set, unpack(old)) end
  local over = redis.call('ZCARD', P .. set) - max
  if over > 0 then
    local extra = redis.call('ZRANGE', P .. set, 0, math.min(over, 500) - 1)
    for _, id in ipairs(extra) do redis.call('DEL', P .. 'j:' .. id) end
    if #extra > 0 then redis.call('ZREM', P .. set, unpack(extra)) end
  end
end
local function held(id, tk)
  local j = P .. 'j:' .. id
  local v = redis.call('HMGET', j, 'st', 'tk')
  return v[1] == 'active' and v[2] == tk, j
end
local function complete(id, tk, now)
  local ok, j = held(id, tk)
  if ok then
    redis.call('ZREM', P .. 'active', id)
    ungroup(j)
    undedupe(j, id)
    redis.call('HSET', j, 'st', 'completed', 'fa', now)
    redis.call('HDEL', j, 'tk')
    redis.call('ZADD', P .. 'done', now, id)
  end
end
`

/** ARGV: now, then per message 13 fields. Returns the id each message resolved to. */
export const enqueueScript = `${common}
local now = tonumber(ARGV[1])
local out = {}
local ready = 0
local i = 2
while i <= #ARGV do
  local id, pr, ra, ma, bb, bm, to, g, dk, pl, h, ca = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5], ARGV[i+6], ARGV[i+7], ARGV[i+8], ARGV[i+9], ARGV[i+10], ARGV[i+11]
  i = i + 12
  local j = P .. 'j:' .. id
  local first = (dk ~= '') and redis.call('HGET', P .. 'dedupe', dk)
  if redis.call('EXISTS', j) == 1 then
    out[#out + 1] = id
  elseif first then
    out[#out + 1] = first
  else
    redis.call('HSET', j, 'pr', pr, 'ra', ra, 'ma', ma, 'bb', bb, 'bm', bm, 'to', to, 'g', g, 'dk', dk, 'p', pl, 'h', h, 'ca', ca, 'st', 'waiting', 'at', 0)
    if dk ~= '' then redis.call('HSET', P .. 'dedupe', dk, id) end
    if tonumber(ra) > now then
      redis.call('ZADD', P .. 'delayed', ra, id)
    else
      towait(id, false)
      ready = ready + 1
    end
    out[#out + 1] = id
  end
end
if ready > 0 then wake(ready) end
return out
`

/**
 * ARGV: now, max, leaseUntil, token, groupLimit ('' for none), keepCompletedMs, keepCompletedMax,
 * keepDeadMs, prune (1 or 0), then id, token pairs of deliveries to complete first.
 * Completes those, promotes due delayed messages, reclaims expired leases, claims up to max.
 * Returns [nextDelayedAt, job fields...] with 15 fields per job.
 */
export const claimScript = `${common}
local now, max, lease, tk, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
for i = 10, #ARGV, 2 do complete(ARGV[i], ARGV[i + 1], now) end
local due = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do towait(id, false) end
if #due > 0 then redis.call('ZREM', P .. 'delayed', unpack(due)) end
local expired = redis.call('ZRANGEBYSCORE', P .. 'active', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local j = P .. 'j:' .. id
  ungroup(j)
  redis.call('HSET', j, 'st', 'waiting')
  redis.call('HDEL', j, 'tk')
  if not redis.call('HGET', j, 'le') then redis.call('HSET', j, 'le', 'lease expired: the worker stopped renewing it') end
  redis.call('SADD', P .. 'failed', id)
  towait(id, true)
end
if #expired > 0 then redis.call('ZREM', P .. 'active', unpack(expired)) end
if ARGV[9] == '1' then
  prune('done', now - tonumber(ARGV[6]), tonumber(ARGV[7]))
  prune('cancelled', now - tonumber(ARGV[6]), tonumber(ARGV[7]))
  prune('dead', now - tonumber(ARGV[8]), 1000000000)
end
local picked = {}
if limit == '' then
  local popped = redis.call('ZPOPMIN', P .. 'wait', max)
  for k = 1, #popped, 2 do picked[#picked + 1] = popped[k] end
else
  limit = tonumber(limit)
  local window = redis.call('ZRANGE', P .. 'wait', 0, 999)
  local rank, busy, cands = {}, {}, {}
  for pos, id in ipairs(window) do
    local g = redis.call('HGET', P .. 'j:' .. id, 'g') or ''
    rank[g] = (rank[g] or 0) + 1
    if busy[g] == nil then busy[g] = tonumber(redis.call('HGET', P .. 'groups', g) or '0') end
    if g == '' or busy[g] + rank[g] <= limit then cands[#cands + 1] = { id, rank[g], pos } end
  end
  table.sort(cands, function(a, b) if a[2] ~= b[2] then return a[2] < b[2] end return a[3] < b[3] end)
  for k = 1, math.min(max, #cands) do picked[#picked + 1] = cands[k][1] end
  if #picked > 0 then redis.call('ZREM', P .. 'wait', unpack(picked)) end
end
local nxt = redis.call('ZRANGE', P .. 'delayed', 0, 0, 'WITHSCORES')
local out = { nxt[2] or '' }
for _, id in ipairs(picked) do
  local j = P .. 'j:' .. id
  local at = redis.call('HINCRBY', j, 'at', 1)
  redis.call('HSET', j, 'st', 'active', 'tk', tk)
  redis.call('ZADD', P .. 'active', lease, id)
  redis.call('SREM', P .. 'failed', id)
  local g = redis.call('HGET', j, 'g')
  if g and g ~= '' then redis.call('HINCRBY', P .. 'groups', g, 1) end
  local v = redis.call('HMGET', j, 'pr', 'ra', 'ma', 'bb', 'bm', 'to', 'g', 'dk', 'p', 'h', 'ca', 'le')
  out[#out + 1] = id
  out[#out + 1] = at
  for k = 1, 12 do out[#out + 1] = v[k] or '' end
  out[#out + 1] = ''
end
return out
`

/** ARGV: now, then id, token pairs. */
export const completeScript = `${common}
local now = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do complete(ARGV[i], ARGV[i + 1], now) end
return 1
`

/** ARGV: now, id, token, kind (retry|dead|cancelled), runAt, reason, error. */
export const failScript = `${common}
local now, id, kind = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local ok, j = held(id, ARGV[3])
if not ok then return 0 end
redis.call('ZREM', P .. 'active', id)
ungroup(j)
redis.call('HSET', j, 'le', ARGV[7])
redis.call('HDEL', j, 'tk')
if kind == 'retry' then
  redis.call('HSET', j, 'st', 'waiting', 'ra', ARGV[5])
  redis.call('SADD', P .. 'failed', id)
  if tonumber(ARGV[5]) > now then
    redis.call('ZADD', P .. 'delayed', ARGV[5], id)
  else
    towait(id, false)
    wake(1)
  end
elseif kind == 'dead' then
  undedupe(j, id)
  redis.call('HSET', j, 'st', 'dead', 'dr', ARGV[6], 'fa', now)
  redis.call('ZADD', P .. 'dead', now, id)
else
  undedupe(j, id)
  redis.call('HSET', j, 'st', 'cancelled', 'fa', now)
  redis.call('ZADD', P .. 'cancelled', now, id)
end
return 1
`

/** ARGV: id, token pairs. Gives deliveries back uncounted, at their old place. */
export const releaseScript = `${common}
local n = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local ok, j = held(id, ARGV[i + 1])
  if ok then
    redis.call('ZREM', P .. 'active', id)
    ungroup(j)
    redis.call('HSET', j, 'st', 'waiting')
    redis.call('HINCRBY', j, 'at', -1)
    redis.call('HDEL', j, 'tk')
    towait(id, true)
    n = n + 1
  end
end
if n > 0 then wake(n) end
return n
`

/** ARGV: leaseUntil, then id, token pairs. Returns per pair 0 (lost), 1 (renewed), 2 (renewed, cancel requested). */
export const renewScript = `${common}
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local ok, j = held(id, ARGV[i + 1])
  if ok then
    redis.call('ZADD', P .. 'active', 'XX', ARGV[1], id)
    out[#out + 1] = (redis.call('HGET', j, 'cx') == '1') and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
`

/** ARGV: now, id. Returns removed | signalled | none. */
export const cancelScript = `${common}
local now, id = tonumber(ARGV[1]), ARGV[2]
local j = P .. 'j:' .. id
local st = redis.call('HGET', j, 'st')
if st == 'waiting' then
  redis.call('ZREM', P .. 'wait', id)
  redis.call('ZREM', P .. 'delayed', id)
  redis.call('SREM', P .. 'failed', id)
  undedupe(j, id)
  redis.call('HSET', j, 'st', 'cancelled', 'fa', now)
  redis.call('ZADD', P .. 'cancelled', now, id)
  return 'removed'
elseif st == 'active' then
  redis.call('HSET', j, 'cx', '1')
  return 'signalled'
end
return 'none'
`

/** ARGV: id, token, value. */
export const progressScript = `${common}
local ok, j = held(ARGV[1], ARGV[2])
if ok then redis.call('HSET', j, 'pg', ARGV[3]) end
return ok and 1 or 0
`

/** ARGV: now, 'all' or ids. Moves dead messages back to waiting with a fresh count. */
export const replayScript = `${common}
local ids = {}
if ARGV[2] == 'all' and #ARGV == 2 then
  ids = redis.call('ZRANGE', P .. 'dead', 0, 9999)
else
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', P .. 'dead', id) == 1 then
    local j = P .. 'j:' .. id
    redis.call('HSET', j, 'st', 'waiting', 'at', 0, 'ra', ARGV[1])
    redis.call('HDEL', j, 'dr', 'fa', 'cx', 'tk')
    towait(id, false)
    n = n + 1
  end
end
if n > 0 then wake(n) end
return n
`

/** ARGV: 'all' or ids. */
export const purgeScript = `${common}
local ids = {}
if ARGV[1] == 'all' and #ARGV == 1 then
  ids = redis.call('ZRANGE', P .. 'dead', 0, 9999)
else
  for i = 1, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', P .. 'dead', id) == 1 then
    redis.call('DEL', P .. 'j:' .. id)
    n = n + 1
  end
end
return n
`
