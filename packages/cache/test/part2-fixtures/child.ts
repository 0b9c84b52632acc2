// A second process for the two-process tests: a tiered cache (memory over Redis, with the
// bus) driven by JSON lines on stdin, answering JSON lines on stdout.
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { eventually } from '@beaver-kit/testkit'
import { createTieredCache, type TieredCache } from '../../src/tiered/cache.ts'

interface Command {
  id: number
  op: string
  [k: string]: unknown
}

let cache: TieredCache | undefined
let redis: Redis | undefined

function reply(id: number, result: unknown, error?: string): void {
  process.stdout.write(`${JSON.stringify({ id, result, error })}\n`)
}

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case 'init':
      redis = new Redis(c.url as string)
      cache = createTieredCache({
        envPrefix: false,
        namespace: c.ns as string,
        tiers: ['memory', 'redis'],
        redis: { url: c.url as string },
        bus: 'redis',
        busChannel: c.channel as string,
      })
      await cache.ready()
      return 'ok'
    case 'get':
      return (await cache?.get(c.key as string)) ?? null
    case 'top': {
      // What the memory tier alone says: the entry's value or null.
      const d = await cache!.driver()
      const m = d.metrics().tiers[0]!.totals
      const before = m.hits
      const v = await cache!.get(c.key as string)
      return { value: v ?? null, fromTop: d.metrics().tiers[0]!.totals.hits > before }
    }
    case 'set':
      await cache?.set(c.key as string, c.value, { tags: c.tags as string[] | undefined })
      return 'ok'
    case 'clear':
      await cache?.clear()
      return 'ok'
    case 'invalidateTags':
      await cache?.invalidateTags(c.tags as string[], { mode: c.mode as 'soft' | 'hard' })
      return 'ok'
    case 'getOrSet': {
      // The loader counts its calls in Redis and waits for the test's release key.
      const value = await cache!.getOrSet(c.key as string, async () => {
        await redis!.incr(c.counter as string)
        await eventually(async () => (await redis!.get(c.release as string)) === '1', { timeoutMs: 20_000 })
        return `loaded by ${process.pid}`
      })
      return value
    }
    case 'close':
      await cache?.close()
      redis?.disconnect()
      setImmediate(() => process.exit(0))
      return 'ok'
    default:
      throw new Error(`unknown op ${c.op}`)
  }
}

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const c = JSON.parse(line) as Command
  handle(c).then(
    (r) => reply(c.id, r),
    (e: unknown) => reply(c.id, null, e instanceof Error ? e.message : String(e)),
  )
})
