import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { eventually, freePort, isCI, uniqueNamespace } from '@beaver-kit/testkit'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'

// The real Prometheus tools (Debian package `prometheus`, installed by scripts/services.sh).
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p))
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p))
if (!PROMTOOL || !PROMETHEUS) {
  if (isCI())
    throw new Error('promtool and prometheus are missing: apt-get install prometheus (scripts/services.sh does)')
  console.log('skipping the Prometheus tests: promtool/prometheus not installed (apt-get install prometheus)')
}

// prom-client's own runtime gauges end in _total; promtool's linter flags them, nothing else may.
const PROM_CLIENT_RUNTIME_LINT =
  /^(\w+_)?nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/

function promtool(text: string): { status: number | null; problems: string[] } {
  const r = spawnSync(PROMTOOL as string, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: r.status, problems: `${r.stdout}${r.stderr}`.split('\n').filter(Boolean) }
}

describe.runIf(PROMTOOL && PROMETHEUS)('with the real Prometheus', () => {
  let m: Metrics
  let server: Server
  let target: string
  const namespace = uniqueNamespace('prom')
  beforeAll(async () => {
    m = createMetrics({ envPrefix: false, prefix: 'shop_' })
    server = createServer(m.handler()).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace })
    await cache.set('k', 1)
    for (let i = 0; i < 3; i++) await cache.get('k')
    m.counter({ name: 'orders_total', help: 'Orders placed', labelNames: ['note'] }).inc({
      note: 'a "quoted"\nline \\ here',
    })
    m.summary({ name: 'payload_bytes', help: 'Payload sizes', percentiles: [0.5, 0.9] }).observe(120)
    m.observeHttpRequest({ method: 'GET', route: '/users/:id', status: 200, durationMs: 12 })
  })
  afterAll(async () => {
    server?.close()
    await m?.close()
  })

  it('promtool finds nothing wrong with the exposition (only prom-client’s own runtime gauge names)', async () => {
    const text = await (await fetch(`http://${target}/metrics`)).text()
    expect(text).toContain('beaver_cache_requests_total')
    const { problems } = promtool(text)
    expect(problems.filter((p) => !PROM_CLIENT_RUNTIME_LINT.test(p))).toEqual([])
    const bare = createMetrics({ envPrefix: false, runtime: false })
    bare.counter({ name: 'x_total', help: 'X', labelNames: ['a'] }).inc({ a: '1' })
    expect(promtool(await bare.render())).toEqual({ status: 0, problems: [] })
    await bare.close()
  })

  it('a Prometheus server scrapes /metrics and answers a query for a kit metric', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beaver-prom-'))
    const port = await freePort()
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: beaver\n    static_configs:\n      - targets: ['${target}']\n`,
    )
    const child: ChildProcess = spawn(
      PROMETHEUS as string,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    )
    try {
      const query = `beaver_cache_requests_total{namespace="${namespace}",result="hit"}`
      const value = await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`)
          const body = (await res.json()) as {
            data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
          }
          const [first] = body.data.result
          expect(first).toBeDefined()
          return first as NonNullable<typeof first>
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      )
      expect(value.value[1]).toBe('3')
      expect(value.metric).toMatchObject({ job: 'beaver', driver: 'memory' })
      const up = await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`)).json()
      expect(JSON.stringify(up)).toContain('"value":[')
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)))
      await rm(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
