// A second process for the concurrency test: builds a limiter on the store named in argv,
// prints "ready", waits for "go" on stdin, fires its share of requests all at once and prints
// how many were allowed, then closes.
import { createInterface } from 'node:readline'
import { createDatabase } from '@beaver-kit/database'
import { channels, createLimiter, DatabaseStore, RedisStore } from '@beaver-kit/ratelimit'

interface Job {
  store: 'redis' | 'postgres'
  url: string
  namespace: string
  table?: string
  limit: number
  requests: number
}

const errors = new Set<string>()
channels.storeError.subscribe((m) => errors.add(String((m as { error: Error }).error.message)))
const job = JSON.parse(process.argv[2] as string) as Job
// 500 transactions queue for one row lock on a pool of 10: a loaded machine needs a long acquire wait.
const database =
  job.store === 'postgres'
    ? createDatabase({ url: job.url, envPrefix: false, pool: { acquireTimeout: '60s', connectTimeout: '60s' } })
    : undefined
const store = database
  ? new DatabaseStore({ database, ...(job.table ? { table: job.table } : {}) })
  : new RedisStore({ url: job.url, prefix: job.namespace, timeoutMs: 60_000 })
const limiter = createLimiter({
  envPrefix: false,
  namespace: job.namespace,
  algorithm: 'token-bucket',
  limit: job.limit,
  window: '1d', // refills one unit every 1d / limit: none during the test
  failPolicy: 'closed',
  timeout: '60s',
  storeInstance: store,
})
await limiter.ready()
await limiter.limitAll([{ key: 'warm', limit: 1_000_000 }]) // connect and create the table before the race
process.stdout.write('ready\n')
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line !== 'go') continue
  const decisions = await Promise.all(Array.from({ length: job.requests }, () => limiter.limit('one-key')))
  const allowed = decisions.filter((d) => d.allowed).length
  const unavailable = decisions.filter((d) => d.source !== 'store').length
  process.stdout.write(`${JSON.stringify({ allowed, unavailable, errors: [...errors] })}\n`)
  break
}
lines.close()
await limiter.close()
await store.close()
await database?.close()
