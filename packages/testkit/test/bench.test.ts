import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  cpuClock,
  formatOps,
  measureCalls,
  median,
  renderBenchMarkdown,
  runBench,
  type BenchReport,
} from '@beaver-kit/testkit/bench'

const fixed = (...ops: number[]) => {
  let i = 0
  return () => Promise.resolve({ opsPerSec: ops[i++ % ops.length] as number, p99Ms: 0.5 })
}

describe('runBench', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('interleaves rounds, keeps medians, computes goals as the median of per-round ratios, writes the schema', async () => {
    vi.stubEnv('BENCH_QUICK', '')
    const dir = mkdtempSync(join(tmpdir(), 'bench-'))
    const url = pathToFileURL(join(dir, 'run.ts')).href
    const order: string[] = []
    const report = await runBench({
      package: 'widget',
      url,
      rounds: 3,
      print: false,
      cases: [
        {
          name: 'get',
          contenders: [
            { contender: 'beaver-kit', measure: fixed(100, 300, 200), setup: () => void order.push('kit') },
            { contender: 'rival-lib', measure: fixed(100, 100, 400), setup: () => void order.push('rival') },
            { contender: 'floor', measure: fixed(200, 200, 200), setup: () => void order.push('floor') },
          ],
        },
      ],
      goals: [{ goal: 'get ≥ 1.0x rival-lib', case: 'get', over: 'rival-lib', target: 1 }],
      extraGoals: () => [{ goal: 'bytes per entry ≤ 70', value: 65, target: 70, met: true }],
      notes: ['65 B per entry'],
    })
    // Round 1 in declared order, round 2 its reverse, round 3 rotated by one.
    expect(order).toEqual(['kit', 'rival', 'floor', 'floor', 'rival', 'kit', 'rival', 'floor', 'kit'])
    const kit = report.results.find((r) => r.contender === 'beaver-kit')
    expect(kit).toEqual({
      case: 'get',
      contender: 'beaver-kit',
      opsPerSec: 200,
      minOpsPerSec: 100,
      maxOpsPerSec: 300,
      p99Ms: 0.5,
    })
    // Per-round ratios 1, 3, 0.5: the median is 1 (the ratio of medians would be 2).
    expect(report.goals).toEqual([
      { goal: 'get ≥ 1.0x rival-lib', value: 1, target: 1, met: true },
      { goal: 'bytes per entry ≤ 70', value: 65, target: 70, met: true },
    ])
    const written = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport
    expect(written.package).toBe('widget')
    expect(written.command).toBe('npm run bench -w @beaver-kit/widget')
    expect(written.cpu).toMatch(/\(\d+ vCPU\)$/)
    expect(written.rounds).toBe(3)
    expect(written.quick).toBe(false)
    expect(written.notes).toEqual(['65 B per entry'])
    expect(written.results).toHaveLength(3)
    // The conditions it ran under: load average at both ends and the measured cost of a clock read.
    const c = written.conditions
    expect(c?.loadStart).toBeGreaterThanOrEqual(0)
    expect(c?.loadEnd).toBeGreaterThanOrEqual(0)
    expect(c?.clockReadNs).toBeGreaterThan(0)
    expect(renderBenchMarkdown(written)).toContain(
      `Conditions: 1-minute load average ${c?.loadStart} at the start and ${c?.loadEnd} at the end (${written.cpu}); one \`performance.now()\` costs ${c?.clockReadNs} ns here.`,
    )
  })

  it('runs each of two contenders first in half the rounds (the slot right after the previous case)', async () => {
    vi.stubEnv('BENCH_QUICK', '')
    const dir = mkdtempSync(join(tmpdir(), 'bench-'))
    const order: string[] = []
    await runBench({
      package: 'widget',
      url: pathToFileURL(join(dir, 'run.ts')).href,
      rounds: 4,
      print: false,
      cases: [
        {
          name: 'put',
          contenders: [
            { contender: 'beaver-kit', measure: fixed(100), setup: () => void order.push('kit') },
            { contender: 'rival-lib', measure: fixed(100), setup: () => void order.push('rival') },
          ],
        },
      ],
    })
    // Rotating by one and reversing every other round gave [kit, rival] in every round.
    expect(order).toEqual(['kit', 'rival', 'rival', 'kit', 'rival', 'kit', 'kit', 'rival'])
  })

  it('BENCH_ONLY runs only the cases whose name contains one of its alternatives, their goals, and writes nothing', async () => {
    vi.stubEnv('BENCH_QUICK', '')
    vi.stubEnv('BENCH_ONLY', 'get|del')
    const dir = mkdtempSync(join(tmpdir(), 'bench-'))
    const ran: string[] = []
    const contenders = (name: string) => [
      { contender: 'beaver-kit', measure: fixed(200), setup: () => void ran.push(name) },
      { contender: 'floor', measure: fixed(100) },
    ]
    const report = await runBench({
      package: 'widget',
      url: pathToFileURL(join(dir, 'run.ts')).href,
      rounds: 2,
      print: false,
      cases: ['get hit', 'set', 'del'].map((name) => ({ name, contenders: contenders(name) })),
      goals: [
        { goal: 'get ≥ 1x floor', case: 'get hit', over: 'floor', target: 1 },
        { goal: 'set ≥ 1x floor', case: 'set', over: 'floor', target: 1 },
      ],
      extraGoals: () => [{ goal: 'computed over the whole run', value: 1, target: 1, met: true }],
    })
    expect(ran).toEqual(['get hit', 'del', 'get hit', 'del'])
    expect(report.goals).toEqual([{ goal: 'get ≥ 1x floor', value: 2, target: 1, met: true }])
    expect(existsSync(join(dir, 'results.json'))).toBe(false)
    vi.stubEnv('BENCH_ONLY', 'nothing like it')
    await expect(
      runBench({
        package: 'widget',
        url: import.meta.url,
        print: false,
        cases: [{ name: 'get', contenders: contenders('get') }],
      }),
    ).rejects.toThrow('BENCH_ONLY=nothing like it: no case of widget has that in its name')
  })

  it('measures sync and async functions, counting opsPerCall', async () => {
    vi.stubEnv('BENCH_QUICK', '1')
    let syncCalls = 0
    let asyncCalls = 0
    const report = await runBench({
      package: 'widget',
      url: import.meta.url,
      print: false,
      cases: [
        { name: 'sync', opsPerCall: 10, contenders: [{ contender: 'beaver-kit', fn: () => syncCalls++ }] },
        {
          name: 'async',
          concurrency: 4,
          latency: true,
          contenders: [{ contender: 'beaver-kit', fn: () => Promise.resolve(asyncCalls++) }],
        },
      ],
    })
    expect(report.quick).toBe(true)
    expect(report.rounds).toBe(1)
    const [sync, asyncResult] = report.results
    expect(syncCalls).toBeGreaterThan(0)
    expect(asyncCalls).toBeGreaterThan(0)
    expect(sync?.opsPerSec).toBeGreaterThan(0)
    expect(asyncResult?.p99Ms).toBeGreaterThanOrEqual(asyncResult?.p50Ms as number)
  })

  it("pays a sync contender's deferred work inside its time: settle() after every batch", async () => {
    vi.stubEnv('BENCH_QUICK', '1')
    let pending = 0
    let settled = 0
    let maxPending = 0
    const report = await runBench({
      package: 'widget',
      url: import.meta.url,
      print: false,
      cases: [
        {
          name: 'deferred',
          contenders: [
            {
              contender: 'beaver-kit',
              fn: () => {
                pending++
                maxPending = Math.max(maxPending, pending)
              },
              settle: async () => {
                await new Promise((r) => setImmediate(r))
                settled += pending
                pending = 0
              },
            },
          ],
        },
      ],
    })
    expect(report.results[0]?.opsPerSec).toBeGreaterThan(0)
    expect(pending).toBe(0)
    expect(settled).toBeGreaterThan(0)
    // Batches stay around a millisecond: the deferred work never piles up for the whole run.
    expect(maxPending).toBeLessThan(settled)
  })

  it('measureCalls counts on the clock it is given (a contender in its own process may use cpuClock)', async () => {
    let now = 0
    let calls = 0
    // A clock that advances 2 ms per call: exactly 500 calls per second, whatever the machine does.
    const m = await measureCalls(
      () => {
        calls++
        now += 2
      },
      { warmMs: 10, measureMs: 100 },
      { clock: () => now, opsPerCall: 3 },
    )
    expect(m.opsPerSec).toBe(1500)
    expect(calls).toBeGreaterThan(50)
    const before = cpuClock()
    let x = 0
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i)
    expect(x).toBeGreaterThan(0)
    expect(cpuClock()).toBeGreaterThan(before)
  })

  it('prints progress and the table, writes results-<name>.json, and takes notes from a function', async () => {
    vi.stubEnv('BENCH_QUICK', '')
    const dir = mkdtempSync(join(tmpdir(), 'bench-'))
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      const report = await runBench({
        package: 'widget',
        url: pathToFileURL(join(dir, 'run.ts')).href,
        name: 'tiered',
        script: 'bench:tiered',
        rounds: 2,
        cases: [
          {
            name: 'get',
            contenders: [
              { contender: 'beaver-kit', variant: 'sieve', measure: fixed(300, 300) },
              { contender: 'beaver-kit', measure: fixed(100, 100) },
              { contender: 'rival-lib', measure: fixed(200, 200) },
            ],
          },
        ],
        goals: [{ goal: 'get ≥ 1.0x rival-lib', case: 'get', over: 'rival-lib', target: 1 }],
        notes: () => ['measured elsewhere'],
      })
      expect(report.command).toBe('npm run bench:tiered -w @beaver-kit/widget')
      expect(report.results.find((r) => r.variant === 'sieve')).toMatchObject({ opsPerSec: 300, minOpsPerSec: 300 })
      expect(report.goals).toEqual([{ goal: 'get ≥ 1.0x rival-lib', value: 0.5, target: 1, met: false }])
      const written = JSON.parse(readFileSync(join(dir, 'results-tiered.json'), 'utf8')) as BenchReport
      expect(written.notes).toEqual(['measured elsewhere'])
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n')
      expect(printed).toMatch(/round 2\/2 {2}get\s+beaver-kit \(sieve\)\s+300 ops\/s {2}p99 0\.500 ms/)
      expect(printed).toContain('| get ≥ 1.0x rival-lib | 0.5 | 1 | no |')
      expect(printed).toContain('- measured elsewhere')
    } finally {
      log.mockRestore()
    }
  })

  it('names what is missing: a contender without fn or measure, a goal over a contender the case lacks', async () => {
    vi.stubEnv('BENCH_QUICK', '1')
    const base = { package: 'widget', url: import.meta.url, print: false }
    await expect(
      runBench({ ...base, cases: [{ name: 'x', contenders: [{ contender: 'beaver-kit' }] }] }),
    ).rejects.toThrow('bench case "x": contender beaver-kit has neither fn nor measure')
    await expect(
      runBench({
        ...base,
        cases: [{ name: 'x', contenders: [{ contender: 'beaver-kit', fn: () => 1 }] }],
        goals: [{ goal: 'g', case: 'x', over: 'nobody', target: 1 }],
      }),
    ).rejects.toThrow('bench goal "g": case "x" lacks one of its contenders')
  })

  it('refuses a contender that did no work in a round (a goal over it would read Infinity, met)', async () => {
    vi.stubEnv('BENCH_QUICK', '')
    await expect(
      runBench({
        package: 'widget',
        url: import.meta.url,
        rounds: 2,
        print: false,
        cases: [
          {
            name: 'drain',
            contenders: [
              { contender: 'beaver-kit', measure: fixed(100) },
              { contender: 'rival-lib', measure: fixed(50, 0) },
            ],
          },
        ],
        goals: [{ goal: 'g', case: 'drain', over: 'rival-lib', target: 1 }],
      }),
    ).rejects.toThrow('bench case "drain": rival-lib measured 0 ops/s in round 2: it did no work')
  })

  it('refuses two contenders of a case with one label', async () => {
    await expect(
      runBench({
        package: 'widget',
        url: import.meta.url,
        print: false,
        cases: [
          {
            name: 'x',
            contenders: [
              { contender: 'beaver-kit', fn: () => 1 },
              { contender: 'beaver-kit', fn: () => 2 },
            ],
          },
        ],
      }),
    ).rejects.toThrow('two contenders are labelled "beaver-kit"')
  })
})

describe('renderBenchMarkdown', () => {
  it('renders one row per case, the kit first and the floor last, with ratios and goals', () => {
    const md = renderBenchMarkdown({
      package: 'widget',
      command: 'npm run bench -w @beaver-kit/widget',
      node: 'v24.21.0',
      date: '2026-12-05T10:00:00.000Z',
      cpu: 'Xeon (2 vCPU)',
      quick: false,
      rounds: 5,
      results: [
        { case: 'get', contender: 'floor', opsPerSec: 4_000_000 },
        { case: 'get', contender: 'beaver-kit', variant: 'sieve', opsPerSec: 3_000_000 },
        { case: 'get', contender: 'beaver-kit', opsPerSec: 2_000_000 },
        { case: 'get', contender: 'lru-cache', opsPerSec: 1_000_000, p99Ms: 0.01 },
      ],
      goals: [{ goal: 'get ≥ 1.0x lru-cache', value: 2, target: 1, met: true }],
    })
    expect(md.split('\n')).toEqual([
      'Measured 2026-12-05 with `npm run bench -w @beaver-kit/widget` on Node v24.21.0, Xeon (2 vCPU); 5 interleaved rounds, median ops/s. In brackets: beaver-kit ÷ that contender.',
      '',
      '| Case | beaver-kit (sieve) | beaver-kit | lru-cache | floor |',
      '| --- | ---: | ---: | ---: | ---: |',
      // The ratios are the default kit's (2M), not the variant's listed first (3M).
      '| get | 3.00M | 2.00M | 1.00M, p99 0.01 ms (2.00x) | 4.00M (0.50x) |',
      '',
      '| Goal | Measured | Target | Met |',
      '| --- | ---: | ---: | :---: |',
      '| get ≥ 1.0x lru-cache | 2 | 1 | yes |',
    ])
  })

  it('median of an even count is the mean of the middle two, and of nothing NaN', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  it('formats ops/s compactly at every scale', () => {
    expect([12_345_678, 1_234_567, 12_345, 1_234.5, 123.4, 12.34].map(formatOps)).toEqual([
      '12.3M',
      '1.23M',
      '12k',
      '1.2k',
      '123',
      '12.3',
    ])
  })

  it('leaves a cell empty where a contender did not run a case, and renders one round without an s', () => {
    const md = renderBenchMarkdown({
      package: 'widget',
      command: 'npm run bench -w @beaver-kit/widget',
      node: 'v24.21.0',
      date: '2026-12-05T10:00:00.000Z',
      cpu: 'Xeon (2 vCPU)',
      quick: false,
      rounds: 1,
      results: [
        { case: 'a', contender: 'beaver-kit', opsPerSec: 10 },
        { case: 'a', contender: 'rival', opsPerSec: 5 },
        { case: 'b', contender: 'rival', opsPerSec: 5 },
      ],
      goals: [],
    })
    expect(md).toContain('1 interleaved round, median')
    expect(md.split('\n').slice(4)).toEqual(['| a | 10.0 | 5.0 (2.00x) |', '| b |  | 5.0 |'])
  })
})
