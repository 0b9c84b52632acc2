// Side-by-side benchmark of @beaver-kit/ratelimit on the kit's harness (@beaver-kit/testkit/bench):
//   memory: limit() decisions/s, kit (fixed window, and its other algorithms as variants)
//           against rate-limiter-flexible's RateLimiterMemory (a fixed window) and a bare Map
//           counter (the floor)
//   redis:  limit() at 16 in flight, kit (fixed window) against RateLimiterRedis on the same
//           ioredis and the raw EVALSHA of the kit's own fixed-window script (the floor)
// Run: npm run bench -w @beaver-kit/ratelimit   (BENCH_QUICK=1 for a smoke run that writes nothing)
import { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import { isQuick, runBench } from '@beaver-kit/testkit/bench'
import { createLimiter, type Algorithm } from '@beaver-kit/ratelimit'
import { FIXED_WINDOW_SCRIPT } from '../src/redis-script.ts'

const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const KEYS = Array.from({ length: 1024 }, (_, i) => `user:${i}`)
let at = 0
const nextKey = (): string => KEYS[at++ & 1023] as string
const BIG = 1_000_000_000 // every call is allowed: the cost of a decision, not of a refusal

const kit = (algorithm: Algorithm, store: 'memory' | 'redis' = 'memory') =>
  createLimiter({
    envPrefix: false,
    namespace: 'bench',
    store,
    algorithm,
    limit: BIG,
    window: '1h',
    redis: { url: REDIS_URL },
  })
const memory = {
  fixed: kit('fixed-window'),
  sliding: kit('sliding-window'),
  bucket: kit('token-bucket'),
  gcra: kit('gcra'),
}
const rlfMemory = new RateLimiterMemory({ points: BIG, duration: 3600 })
const counters = new Map<string, { start: number; n: number }>()
const floorMemory = (key: string): boolean => {
  const now = Date.now()
  const start = now - (now % 3_600_000)
  const c = counters.get(key)
  if (!c || c.start !== start) counters.set(key, { start, n: 1 })
  else c.n++
  return true
}

const redisKit = kit('fixed-window', 'redis')
await redisKit.ready()
const client = new Redis(REDIS_URL)
// The kit's own client pipelines the commands of one event-loop turn and bounds each command
// (500 ms); the floor and the second RateLimiterRedis row get a client set the same way, so the
// goals compare like with like.
const pipelined = new Redis(REDIS_URL, { enableAutoPipelining: true, commandTimeout: 500 })
const rlfOptions = { points: BIG, duration: 3600, keyPrefix: 'bench-rlf' }
const rlfRedis = new RateLimiterRedis({ storeClient: client, ...rlfOptions })
const rlfPipelined = new RateLimiterRedis({ storeClient: pipelined, ...rlfOptions })
const sha = (await client.script('LOAD', FIXED_WINDOW_SCRIPT)) as string
const rawCall = (): Promise<unknown> => {
  const base = `bench-raw:{${nextKey()}}`
  const now = Date.now()
  const start = Math.floor(now / 3_600_000) * 3_600_000
  return pipelined.evalsha(sha, 2, base, `${base}:b`, start, start + 3_600_000 - now, 0, BIG, 1)
}

try {
  await runBench({
    package: 'ratelimit',
    url: import.meta.url,
    rounds: isQuick() ? 1 : 7,
    cases: [
      {
        name: 'memory limit()',
        contenders: [
          { contender: 'beaver-kit', variant: 'fixed-window', fn: () => memory.fixed.limit(nextKey()) },
          { contender: 'beaver-kit', variant: 'sliding-window', fn: () => memory.sliding.limit(nextKey()) },
          { contender: 'beaver-kit', variant: 'token-bucket', fn: () => memory.bucket.limit(nextKey()) },
          { contender: 'beaver-kit', variant: 'gcra', fn: () => memory.gcra.limit(nextKey()) },
          { contender: 'rate-limiter-flexible', fn: () => rlfMemory.consume(nextKey()) },
          { contender: 'floor', fn: () => floorMemory(nextKey()) },
        ],
      },
      {
        name: 'redis limit(), 16 in flight',
        concurrency: 16,
        latency: true,
        contenders: [
          { contender: 'beaver-kit', fn: () => redisKit.limit(nextKey()) },
          { contender: 'rate-limiter-flexible', variant: 'plain client', fn: () => rlfRedis.consume(nextKey()) },
          {
            contender: 'rate-limiter-flexible',
            variant: 'auto-pipelining client',
            fn: () => rlfPipelined.consume(nextKey()),
          },
          { contender: 'floor', fn: rawCall },
        ],
      },
    ],
    goals: [
      {
        goal: 'memory limit() ≥ 1.0x rate-limiter-flexible (both fixed window)',
        case: 'memory limit()',
        of: { contender: 'beaver-kit', variant: 'fixed-window' },
        over: 'rate-limiter-flexible',
        target: 1,
      },
      {
        goal: 'redis limit() ≥ 0.9x raw EVALSHA of the same script',
        case: 'redis limit(), 16 in flight',
        over: 'floor',
        target: 0.9,
      },
      {
        goal: 'redis limit() ≥ 1.0x rate-limiter-flexible (RateLimiterRedis, both clients auto-pipelining)',
        case: 'redis limit(), 16 in flight',
        over: { contender: 'rate-limiter-flexible', variant: 'auto-pipelining client' },
        target: 1,
      },
    ],
    notes: [
      'Every call is allowed (limit 10^9 per hour over 1,024 keys): the figures are the cost of a decision.',
      'rate-limiter-flexible counts a fixed window; the kit rows name their algorithm. floor (memory): a Map of window counters; floor (redis): EVALSHA of the kit’s own fixed-window script through the same ioredis client, without the limiter around it.',
      'Redis runs on the same 2 vCPUs as the bench.',
      'The kit’s Redis store makes its own ioredis client, which pipelines the commands of one event-loop turn (enableAutoPipelining) and bounds each command (commandTimeout 500 ms, a timer per command). The floor and the goal’s RateLimiterRedis get a client set the same way; RateLimiterRedis on a plain ioredis client, as rate-limiter-flexible’s documentation sets it up, is the other row.',
      'Memory keys: a limiter’s own memory store holds one namespace, so its Map keys are the caller’s keys as given (no per-call concatenation to hash); rate-limiter-flexible prefixes every key with its keyPrefix (default rlflx:), as a kit limiter on a shared store (storeInstance) prefixes its namespace.',
    ],
  })
} finally {
  await Promise.all([...Object.values(memory).map((l) => l.close()), redisKit.close()])
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', 'bench-*', 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await client.del(...keys)
  } while (cursor !== '0')
  await Promise.all([client.quit(), pipelined.quit()])
}
