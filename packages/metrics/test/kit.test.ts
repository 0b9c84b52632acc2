import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase, sql } from '@beaver-kit/database'
import { createHttpClient } from '@beaver-kit/http'
import { createQueue } from '@beaver-kit/queue'
import { eventChannel } from '@beaver-kit/core'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'

let m: Metrics
let server: Server
let base: string
beforeAll(async () => {
  m = createMetrics({ envPrefix: false, runtime: false })
  server = createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/missing') ? 404 : 200
    res.end('{}')
  }).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await m.close()
  server.close()
})

/** The value of one series in the exposition, by its exact label text. */
async function sample(series: string): Promise<number | undefined> {
  const line = (await m.render()).split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('kit metrics from the diagnostics channels', () => {
  it('counts cache hits and misses and times each operation per driver and namespace', async () => {
    const namespace = uniqueNamespace('metrics')
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace })
    await cache.set('a', 1)
    await cache.get('a')
    await cache.get('a')
    await cache.get('nope')
    await cache.getMany(['a', 'b', 'c'])
    expect(await sample(`beaver_cache_requests_total{driver="memory",namespace="${namespace}",result="hit"}`)).toBe(3)
    expect(await sample(`beaver_cache_requests_total{driver="memory",namespace="${namespace}",result="miss"}`)).toBe(3)
    expect(
      await sample(
        `beaver_cache_operation_duration_seconds_count{operation="get",driver="memory",namespace="${namespace}",outcome="ok"}`,
      ),
    ).toBe(3)
  })

  it('times database statements by leading keyword and outcome, never by statement text', async () => {
    await using db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
    await db.exec('create table notes (id integer primary key, body text)')
    await db.execute(sql`insert into notes (body) values (${'secret body'})`)
    await db.many(sql`select * from notes`)
    await expect(db.many(sql`select * from missing_table`)).rejects.toThrow()
    const text = await m.render()
    expect(text).toMatch(
      /beaver_database_query_duration_seconds_count\{driver="sqlite",dialect="sqlite",operation="SELECT",outcome="ok"\} 1/,
    )
    expect(text).toMatch(
      /beaver_database_query_duration_seconds_count\{driver="sqlite",dialect="sqlite",operation="SELECT",outcome="error"\} 1/,
    )
    expect(text).toMatch(/operation="INSERT",outcome="ok"\} 1/)
    expect(text).not.toContain('secret body')
    expect(text).not.toContain('missing_table')
  })

  it('times outgoing HTTP requests per origin, status and outcome', async () => {
    await using client = createHttpClient({ envPrefix: false, retry: { maxAttempts: 1 } })
    await (await client.get(`${base}/users/1`)).text()
    await client.get(`${base}/missing`).catch(() => undefined)
    expect(
      await sample(
        `beaver_http_client_request_duration_seconds_count{method="GET",host="${base}",status="200",outcome="success"}`,
      ),
    ).toBe(1)
    expect(
      await sample(
        `beaver_http_client_request_duration_seconds_count{method="GET",host="${base}",status="404",outcome="http_error"}`,
      ),
    ).toBe(1)
  })

  it('counts queue publishes and times handler runs by outcome', async () => {
    await using queue = createQueue({ envPrefix: false, driver: 'memory' })
    const name = uniqueNamespace('jobs')
    await queue.consume(name, async () => undefined)
    await queue.publish(name, { n: 1 })
    await queue.publish(name, { n: 2 })
    await eventually(async () =>
      expect(
        await sample(`beaver_queue_handle_duration_seconds_count{queue="${name}",driver="memory",outcome="completed"}`),
      ).toBe(2),
    )
    expect(await sample(`beaver_queue_published_total{queue="${name}",driver="memory",outcome="ok"}`)).toBe(2)
  })

  it('counts the events of a package it does not know, and health results as a state set', async () => {
    const pkg = `p${Date.now().toString(36)}`
    eventChannel(pkg, 'flushed').publish({})
    eventChannel(pkg, 'flushed').publish({})
    expect(await sample(`beaver_events_total{package="${pkg}",event="flushed"}`)).toBe(2)
    eventChannel('health', 'check').publish({ check: 'db', status: 'degraded' })
    expect(await sample('beaver_health_check_status{check="db",status="degraded"}')).toBe(1)
    expect(await sample('beaver_health_check_status{check="db",status="up"}')).toBe(0)
  })

  it('turns every kit event into its counter or gauge', async () => {
    const ev = (pkg: string, name: string, payload: object): void => eventChannel(pkg, name).publish(payload)
    ev('cache', 'error', { op: 'get', namespace: 'ev', driver: 'redis', error: new Error('x') })
    ev('cache', 'grace', { namespace: 'ev', reason: 'loader failure' })
    ev('database', 'idleError', { driver: 'pg', error: new Error('x') })
    ev('database', 'replica', { replica: 'postgres://r1', state: 'down' })
    ev('http', 'retry', { method: 'GET', host: 'https://a.example', code: 'HTTP_STATUS' })
    ev('http', 'breaker', { key: 'a.example', from: 'closed', to: 'open' })
    ev('http', 'egressDenied', { method: 'GET', host: 'http://169.254.169.254', address: '169.254.169.254' })
    ev('queue', 'retry', { queue: 'ev' })
    ev('queue', 'dead', { queue: 'ev', reason: 'attempts' })
    ev('queue', 'leaseLost', { queue: 'ev' })
    ev('queue', 'connection', { driver: 'redis', state: 'lost' })
    ev('logger', 'dropped', { output: 'file', count: 5, reason: 'full' })
    ev('logger', 'outputError', { output: 'file', error: new Error('x') })
    const expected: Array<[string, number]> = [
      ['beaver_cache_errors_total{operation="get",driver="redis",namespace="ev"}', 1],
      ['beaver_cache_grace_total{namespace="ev",reason="loader failure"}', 1],
      ['beaver_database_idle_errors_total{driver="pg"}', 1],
      ['beaver_database_replica_up{replica="postgres://r1"}', 0],
      ['beaver_http_client_retries_total{method="GET",host="https://a.example",code="HTTP_STATUS"}', 1],
      ['beaver_http_client_breaker_state{key="a.example"}', 2],
      ['beaver_http_client_egress_denied_total{host="http://169.254.169.254"}', 1],
      ['beaver_queue_retries_total{queue="ev"}', 1],
      ['beaver_queue_dead_total{queue="ev",reason="attempts"}', 1],
      ['beaver_queue_lease_lost_total{queue="ev"}', 1],
      ['beaver_queue_connection_up{driver="redis"}', 0],
      ['beaver_logger_dropped_total{output="file",reason="full"}', 5],
      ['beaver_logger_output_errors_total{output="file"}', 1],
    ]
    for (const [series, value] of expected) expect([series, await sample(series)]).toEqual([series, value])
  })

  it('stops counting once closed', async () => {
    const other = createMetrics({ envPrefix: false, runtime: false })
    await other.close()
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace: uniqueNamespace('closed') })
    await cache.get('x')
    expect(other.describe().state.closed).toBe(true)
  })
})
