import { statfs } from 'node:fs/promises'
import { toBytes, type Bytes } from '@beaver-kit/config'
import type { CheckFn } from './check.ts'
import { HealthError } from './errors.ts'

/** Anything with the kit's `ready({ signal })`: a database, cache, queue, mailer... */
export interface ReadyTarget {
  ready(options?: { signal?: AbortSignal }): Promise<void>
}

/**
 * Checks a kit instance with its `ready()` (one round trip to its server: a database ping, a
 * Redis PING, the queue backend). The kit's default instances are checked this way automatically.
 */
export function instanceCheck(target: ReadyTarget): CheckFn {
  return (signal) => target.ready({ signal })
}

/** A database (`@beaver-kit/database`): one ping. */
export const databaseCheck: (db: ReadyTarget) => CheckFn = instanceCheck
/** A cache (`@beaver-kit/cache`): one round trip to its store. */
export const cacheCheck: (cache: ReadyTarget) => CheckFn = instanceCheck
/** A queue (`@beaver-kit/queue`): its backend answers. */
export const queueCheck: (queue: ReadyTarget) => CheckFn = instanceCheck

/** A Redis client of your own (ioredis or node-redis): PING must answer PONG. */
export function redisCheck(client: { ping(): Promise<unknown> }): CheckFn {
  return async () => {
    const answer = await client.ping()
    if (answer !== 'PONG')
      throw new HealthError('HEALTH_CHECK_FAILED', `Redis answered PING with ${JSON.stringify(answer)}`)
  }
}

export interface HttpCheckOptions {
  method?: string
  headers?: Record<string, string>
  /** Whether a status passes; default 200-399. */
  expect?: (status: number) => boolean
}

/** An HTTP dependency: one request (no redirects followed) whose status must pass `expect`. */
export function httpCheck(url: string | URL, options: HttpCheckOptions = {}): CheckFn {
  const { method = 'GET', headers, expect = (s: number) => s >= 200 && s < 400 } = options
  const target = new URL(url)
  return async (signal) => {
    const res = await fetch(target, { method, signal, redirect: 'manual', ...(headers ? { headers } : {}) })
    await res.body?.cancel()
    // The origin only: a URL's path or query may carry a token.
    if (!expect(res.status))
      throw new HealthError('HEALTH_CHECK_FAILED', `${method} ${target.origin} answered ${res.status}`, {
        details: { status: res.status },
      })
  }
}

export interface DiskCheckOptions {
  /** A path on the file system to watch; default the working directory. */
  path?: string
  /** Below this much free space the check is down. Default 100mb. */
  minFree?: Bytes
  /** Below this much it is degraded. Default 1gb. */
  warnFree?: Bytes
}

/** Free space on a file system (what `df` shows as available to this user). */
export function diskCheck(options: DiskCheckOptions = {}): CheckFn {
  const path = options.path ?? '.'
  const minFree = toBytes(options.minFree ?? '100mb', 'minFree')
  const warnFree = toBytes(options.warnFree ?? '1gb', 'warnFree')
  return async () => {
    const s = await statfs(path)
    const free = Number(s.bavail) * Number(s.bsize)
    const detail = `${Math.round(free / 1024 / 1024)} MiB free`
    if (free < minFree)
      throw new HealthError('HEALTH_CHECK_FAILED', `Only ${detail} on ${path}; below ${minFree} bytes`, {
        details: { free },
      })
    return { status: free < warnFree ? 'degraded' : 'up', detail }
  }
}

export interface MemoryCheckOptions {
  /** Above this resident set size the check is down. */
  maxRss?: Bytes
  /** Above this heap use the check is down. */
  maxHeapUsed?: Bytes
  /** Fraction of a limit above which it is degraded. Default 0.9. */
  warnRatio?: number
}

/** The process's own memory against limits: degraded near them, down past them (a liveness check). */
export function memoryCheck(options: MemoryCheckOptions = {}): CheckFn {
  const limits = [
    ['rss', options.maxRss === undefined ? undefined : toBytes(options.maxRss, 'maxRss')],
    ['heapUsed', options.maxHeapUsed === undefined ? undefined : toBytes(options.maxHeapUsed, 'maxHeapUsed')],
  ] as const
  const warn = options.warnRatio ?? 0.9
  return () => {
    const usage = process.memoryUsage()
    let degraded = false
    for (const [field, limit] of limits) {
      if (limit === undefined) continue
      if (usage[field] > limit)
        throw new HealthError('HEALTH_CHECK_FAILED', `${field} is ${usage[field]} bytes, over the limit of ${limit}`, {
          details: { [field]: usage[field], limit },
        })
      if (usage[field] > limit * warn) degraded = true
    }
    return { status: degraded ? 'degraded' : 'up', detail: `rss ${Math.round(usage.rss / 1024 / 1024)} MiB` }
  }
}
