import { sleep } from '@beaver-kit/core'

/** Paces sends: `take()` resolves when the caller may send `cost` messages. */
export interface SendRateLimiter {
  /** Waits for `cost` tokens (default 1); rejects with the abort reason, handing the tokens back. */
  take(cost?: number, options?: { signal?: AbortSignal | undefined }): Promise<void>
}

export interface TokenBucketOptions {
  /** Sustained rate in messages per second. */
  perSecond: number
  /** Messages that may go at once after a quiet spell. Default: one second's worth (at least 1). */
  burst?: number | undefined
  now?: () => number
}

function checkRate(perSecond: number, burst: number): void {
  if (!(perSecond > 0) || !Number.isFinite(perSecond))
    throw new RangeError(`perSecond must be a positive number, got ${perSecond}`)
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1, got ${burst}`)
}

/**
 * A token bucket in this process, shared by every connection of a pool (nodemailer's
 * `rateLimit` is per connection: nodemailer#768). Callers reserve tokens first and then wait
 * out their deficit, so concurrent senders queue in order instead of racing for refills.
 * @example const limiter = createTokenBucket({ perSecond: 14 }) // SES sandbox rate
 */
export function createTokenBucket(options: TokenBucketOptions): SendRateLimiter {
  const { perSecond, now = Date.now } = options
  const burst = options.burst ?? Math.max(1, Math.floor(perSecond))
  checkRate(perSecond, burst)
  const perMs = perSecond / 1000
  let tokens = burst
  let last = now()
  return {
    async take(cost = 1, takeOptions = {}) {
      const at = now()
      tokens = Math.min(burst, tokens + (at - last) * perMs) - cost
      last = at
      if (tokens >= 0) return
      try {
        await sleep(Math.ceil(-tokens / perMs), takeOptions.signal)
      } catch (err) {
        tokens += cost
        throw err
      }
    },
  }
}

/** What the Redis bucket needs of a client: ioredis's `eval`. */
export interface RedisEvalClient {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
}

// Reserves `cost` tokens against Redis's own clock (TIME), so processes with skewed clocks
// still share one rate; returns how many ms the caller must wait out its reservation.
const TAKE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1]) or burst
local ts = tonumber(data[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate) - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
if tokens >= 0 then return 0 end
return math.ceil(-tokens / rate)
`
const REFUND = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBYFLOAT', KEYS[1], 'tokens', ARGV[1]) end
return 1
`

/**
 * A token bucket in Redis, so every process sending through one account shares one rate
 * (one Lua script per reservation; the key expires once the bucket would be full again).
 * @example createRedisTokenBucket({ client: redis, key: 'mail:rate:ses', perSecond: 14 })
 */
export function createRedisTokenBucket(
  options: TokenBucketOptions & { client: RedisEvalClient; key: string },
): SendRateLimiter {
  const { client, key, perSecond } = options
  const burst = options.burst ?? Math.max(1, Math.floor(perSecond))
  checkRate(perSecond, burst)
  const perMs = perSecond / 1000
  return {
    async take(cost = 1, takeOptions = {}) {
      const waitMs = Number(await client.eval(TAKE, 1, key, perMs, burst, cost))
      if (waitMs <= 0) return
      try {
        await sleep(waitMs, takeOptions.signal)
      } catch (err) {
        // The abort is what the caller must see; a refund that fails only leaves the shared
        // bucket stricter until it refills, which is the safe side of a rate limit.
        await client.eval(REFUND, 1, key, cost).catch(() => undefined)
        throw err
      }
    },
  }
}
