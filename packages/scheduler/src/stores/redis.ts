import { importPeer } from '@beaver-kit/core'
import type { Redis } from 'ioredis'
import {
  defineSchedulerStore,
  type ClaimRequest,
  type ControlPatch,
  type RunEnd,
  type RunOutcome,
  type RunRecord,
  type ScheduleControl,
  type SchedulerStore,
  type SchedulerStoreContext,
} from '../store.ts'

/** Options of the redis store (`BEAVER_SCHEDULER_REDIS_*`). */
export interface RedisStoreOptions {
  url?: string | undefined
  password?: string | undefined
  /** First segment of every key. Default `bsched`. */
  prefix?: string | undefined
  /** A client to use (never closed by the scheduler). */
  client?: Redis | undefined
}

// KEYS: run hash, history zset (score: due), last due, token counter, live zset (score: lease), schedules set
const CLAIM = `
if redis.call('exists', KEYS[1]) == 1 then return false end
local tok = redis.call('incr', KEYS[4])
redis.call('hset', KEYS[1], 'schedule', ARGV[1], 'slot', ARGV[2], 'dueAt', ARGV[3], 'trigger', ARGV[4],
  'instance', ARGV[5], 'token', tok, 'startedAt', ARGV[6], 'leaseUntil', ARGV[7], 'outcome', ARGV[8])
if ARGV[8] ~= 'running' then redis.call('hset', KEYS[1], 'endedAt', ARGV[6])
else redis.call('zadd', KEYS[5], ARGV[7], tok .. '|' .. ARGV[2]) end
redis.call('zadd', KEYS[2], ARGV[3], ARGV[2])
if ARGV[4] ~= 'manual' then
  local cur = tonumber(redis.call('get', KEYS[3]) or '-1')
  if tonumber(ARGV[3]) > cur then redis.call('set', KEYS[3], ARGV[3]) end
end
redis.call('sadd', KEYS[6], ARGV[1])
return tok`

// KEYS: run hash, live zset. ARGV: token, leaseUntil, slot
const RENEW = `
if redis.call('hget', KEYS[1], 'token') ~= ARGV[1] or redis.call('hget', KEYS[1], 'outcome') ~= 'running' then return 0 end
redis.call('hset', KEYS[1], 'leaseUntil', ARGV[2])
redis.call('zadd', KEYS[2], ARGV[2], ARGV[1] .. '|' .. ARGV[3])
return 1`

// KEYS: run hash, live zset. ARGV: token, outcome, endedAt, error, slot
const FINISH = `
if redis.call('hget', KEYS[1], 'token') ~= ARGV[1] or redis.call('hget', KEYS[1], 'outcome') ~= 'running' then return 0 end
redis.call('hset', KEYS[1], 'outcome', ARGV[2], 'endedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('hset', KEYS[1], 'error', ARGV[4]) end
redis.call('zrem', KEYS[2], ARGV[1] .. '|' .. ARGV[5])
return 1`

// KEYS: live zset. ARGV: now, run-key prefix. Marks expired running rows abandoned.
const SWEEP = `
local n = 0
for _, m in ipairs(redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])) do
  local slot = string.sub(m, string.find(m, '|', 1, true) + 1)
  local key = ARGV[2] .. slot
  if redis.call('hget', key, 'outcome') == 'running' then
    redis.call('hset', key, 'outcome', 'abandoned', 'endedAt', redis.call('hget', key, 'leaseUntil'))
    n = n + 1
  end
  redis.call('zrem', KEYS[1], m)
end
return n`

// KEYS: control hash. ARGV: name, now. Creates the row if missing, clears removed, returns it.
const REGISTER = `
local raw = redis.call('hget', KEYS[1], ARGV[1])
local c
if raw then c = cjson.decode(raw) else c = { paused = false, removed = false, createdAt = tonumber(ARGV[2]) } end
c.removed = false
raw = cjson.encode(c)
redis.call('hset', KEYS[1], ARGV[1], raw)
return raw`

// KEYS: control hash. ARGV: name, now, patch (JSON).
const CONTROL = `
local raw = redis.call('hget', KEYS[1], ARGV[1])
local c
if raw then c = cjson.decode(raw) else c = { paused = false, removed = false, createdAt = tonumber(ARGV[2]) } end
for k, v in pairs(cjson.decode(ARGV[3])) do c[k] = v end
redis.call('hset', KEYS[1], ARGV[1], cjson.encode(c))
return 1`

type Scripted = Redis & {
  bsClaim(...args: (string | number)[]): Promise<number | null>
  bsRenew(...args: (string | number)[]): Promise<number>
  bsFinish(...args: (string | number)[]): Promise<number>
  bsSweep(...args: (string | number)[]): Promise<number>
  bsRegister(...args: (string | number)[]): Promise<string>
  bsControl(...args: (string | number)[]): Promise<number>
}

const COMMANDS: Array<[keyof Scripted & string, number, string]> = [
  ['bsClaim', 6, CLAIM],
  ['bsRenew', 2, RENEW],
  ['bsFinish', 2, FINISH],
  ['bsSweep', 1, SWEEP],
  ['bsRegister', 1, REGISTER],
  ['bsControl', 1, CONTROL],
]

/** The scheduler store on Redis: a Lua script per claim (exists-or-create), a counter for fencing tokens. */
export class RedisStore implements SchedulerStore {
  readonly name = 'redis'
  readonly distributed = true
  readonly #options: RedisStoreOptions
  readonly #p: string
  #client: Scripted | undefined
  #opening: Promise<Scripted> | undefined

  constructor(options: RedisStoreOptions, ctx: SchedulerStoreContext) {
    this.#options = options
    // One hash tag per namespace keeps a namespace's keys in one Cluster slot (Lua touches several).
    this.#p = `${options.prefix ?? 'bsched'}:{${ctx.namespace}}:`
  }

  #connect(): Promise<Scripted> {
    this.#opening ??= (async () => {
      let client = this.#options.client
      if (!client) {
        const { Redis } = await importPeer('ioredis', () => import('ioredis'), 'the redis scheduler store')
        // Commands fail fast while Redis is away (instead of waiting in the offline queue), so
        // the scheduler pauses, reports the store lost, and claims again when it is back.
        client = new Redis(this.#options.url ?? 'redis://127.0.0.1:6379', {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          ...(this.#options.password ? { password: this.#options.password } : {}),
        })
        client.on('error', () => undefined)
        await client.connect()
      }
      for (const [name, keys, lua] of COMMANDS) client.defineCommand(name, { numberOfKeys: keys, lua })
      this.#client = client as Scripted
      return this.#client
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  #run(schedule: string, slot: string): string {
    return `${this.#p}run:${schedule}:${slot}`
  }

  async register(schedule: string, now: number): Promise<ScheduleControl> {
    const c = await this.#connect()
    return controlOf(await c.bsRegister(`${this.#p}ctl`, schedule, now))
  }

  async claim(r: ClaimRequest): Promise<number | undefined> {
    const c = await this.#connect()
    const token = await c.bsClaim(
      this.#run(r.schedule, r.slot),
      `${this.#p}hist:${r.schedule}`,
      `${this.#p}last:${r.schedule}`,
      `${this.#p}tok`,
      `${this.#p}live:${r.schedule}`,
      `${this.#p}schedules`,
      r.schedule,
      r.slot,
      r.dueAt,
      r.trigger,
      r.instance,
      r.now,
      r.now + r.leaseMs,
      r.outcome ?? 'running',
    )
    return token === null ? undefined : Number(token)
  }

  async renew(schedule: string, slot: string, token: number, until: number): Promise<boolean> {
    const c = await this.#connect()
    return (await c.bsRenew(this.#run(schedule, slot), `${this.#p}live:${schedule}`, token, until, slot)) === 1
  }

  async finish(schedule: string, slot: string, token: number, end: RunEnd): Promise<void> {
    const c = await this.#connect()
    await c.bsFinish(
      this.#run(schedule, slot),
      `${this.#p}live:${schedule}`,
      token,
      end.outcome,
      end.endedAt,
      end.error ?? '',
      slot,
    )
  }

  async running(schedule: string, now: number, exceptToken: number): Promise<number> {
    const c = await this.#connect()
    const live = await c.zrangebyscore(`${this.#p}live:${schedule}`, `(${now}`, '+inf')
    return live.filter((m) => !m.startsWith(`${exceptToken}|`)).length
  }

  async lastDue(schedule: string): Promise<number | undefined> {
    const c = await this.#connect()
    const v = await c.get(`${this.#p}last:${schedule}`)
    return v === null ? undefined : Number(v)
  }

  async history(schedule: string, options: { limit: number; outcome?: RunOutcome | undefined }): Promise<RunRecord[]> {
    const c = await this.#connect()
    const scan = options.outcome ? Math.min(5000, options.limit * 50) : options.limit
    const slots = await c.zrevrange(`${this.#p}hist:${schedule}`, 0, scan - 1)
    if (slots.length === 0) return []
    const pipe = c.pipeline()
    for (const slot of slots) pipe.hgetall(this.#run(schedule, slot))
    const rows = ((await pipe.exec()) ?? [])
      .map(([, row]) => row as Record<string, string>)
      .filter((row) => row && row.token !== undefined)
      .map(recordOf)
      .filter((r) => options.outcome === undefined || r.outcome === options.outcome)
    rows.sort((a, b) => b.dueAt - a.dueAt || b.startedAt - a.startedAt || b.token - a.token)
    return rows.slice(0, options.limit)
  }

  async controls(): Promise<Map<string, ScheduleControl>> {
    const c = await this.#connect()
    const all = await c.hgetall(`${this.#p}ctl`)
    return new Map(Object.entries(all).map(([name, raw]) => [name, controlOf(raw)]))
  }

  async control(schedule: string, patch: ControlPatch, now: number): Promise<void> {
    const c = await this.#connect()
    await c.bsControl(`${this.#p}ctl`, schedule, now, JSON.stringify(patch))
  }

  async sweep(now: number): Promise<number> {
    const c = await this.#connect()
    let n = 0
    for (const schedule of await c.smembers(`${this.#p}schedules`)) {
      n += Number(await c.bsSweep(`${this.#p}live:${schedule}`, now, `${this.#p}run:${schedule}:`))
    }
    return n
  }

  async prune(schedule: string, before: number, keep: number): Promise<number> {
    const c = await this.#connect()
    const hist = `${this.#p}hist:${schedule}`
    const total = await c.zcard(hist)
    if (total <= 1) return 0
    // The latest row stays whatever its age: it is the cursor that missed-run detection reads.
    const byCount = total > keep ? await c.zrange(hist, 0, total - keep - 1) : []
    const byAge = await c.zrangebyscore(hist, '-inf', `(${before}`)
    const latest = await c.zrevrange(hist, 0, 0)
    const doomed = new Set([...byCount, ...byAge])
    for (const slot of latest) doomed.delete(slot)
    let n = 0
    for (const slot of doomed) {
      const key = this.#run(schedule, slot)
      if ((await c.hget(key, 'outcome')) === 'running') continue
      await c.multi().del(key).zrem(hist, slot).exec()
      n++
    }
    return n
  }

  async ping(): Promise<void> {
    const c = await this.#connect()
    await c.ping()
  }

  async close(): Promise<void> {
    const client = this.#client
    this.#client = undefined
    this.#opening = undefined
    if (client && !this.#options.client) await client.quit().catch(() => client.disconnect())
  }
}

function controlOf(raw: string): ScheduleControl {
  const c = JSON.parse(raw) as { paused?: boolean; triggerAt?: number; removed?: boolean; createdAt: number }
  return {
    paused: c.paused === true,
    triggerAt: c.triggerAt,
    removed: c.removed === true,
    createdAt: Number(c.createdAt),
  }
}

function recordOf(row: Record<string, string>): RunRecord {
  const endedAt = row.endedAt === undefined ? undefined : Number(row.endedAt)
  const startedAt = Number(row.startedAt)
  return {
    schedule: row.schedule as string,
    slot: row.slot as string,
    dueAt: Number(row.dueAt),
    trigger: row.trigger as RunRecord['trigger'],
    instance: row.instance as string,
    token: Number(row.token),
    startedAt,
    endedAt,
    durationMs: endedAt === undefined ? undefined : Math.max(0, endedAt - startedAt),
    outcome: row.outcome as RunOutcome,
    error: row.error,
  }
}

/**
 * Redis (ioredis, an optional peer): Lua claims, a counter for fencing tokens.
 * @example createScheduler({ store: 'redis', redis: { url: 'redis://cache:6379' } })
 */
export const redisStore = defineSchedulerStore<RedisStoreOptions>({
  name: 'redis',
  peers: ['ioredis'],
  section: 'redis',
  create: (options, ctx) => new RedisStore(options ?? {}, ctx),
})
