// Side-by-side benchmark: the kit, bare pino in the kit's default mode, winston and the raw
// floor (JSON.stringify + sonic-boom), to /dev/null and to a file. Each contender runs in a
// fresh child process so that one's JIT state and garbage never weigh on another.
//   npm run bench -w @beaver-kit/logger            (full)
//   BENCH_QUICK=1 npm run bench -w @beaver-kit/logger
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CASES, contenders, type ContenderName } from './contenders.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const BURST = QUICK ? 30_000 : 300_000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3))
const SAMPLE_MS = QUICK ? 150 : 1000
const TARGETS = ['/dev/null', 'file'] as const
const CONTENDERS: ContenderName[] = ['beaver-kit', 'kit-no-keys', 'pino', 'winston', 'floor']

interface Result {
  case: string
  contender: ContenderName
  opsPerSec: number
}

if (process.argv[2] === '--child') {
  const [, , , name, target] = process.argv as [string, string, string, ContenderName, string]
  const results = await runChild(name, target)
  process.stdout.write(`${JSON.stringify(results)}\n`)
  process.exit(0)
} else {
  await runParent()
}

async function runChild(name: ContenderName, target: string): Promise<Result[]> {
  const results: Result[] = []
  for (const c of CASES) {
    const contender = await contenders[name](target)
    const nsPerOp = await measureCpu(contender.cases[c] as () => void, contender.settle)
    results.push({ case: c, contender: name, opsPerSec: Math.round(1e9 / nsPerOp) })
    await contender.close()
  }
  // A burst counts the drain too: what an async logger defers is paid before close() resolves.
  // CPU time, as for the cases (the close itself waits idle for the last writes).
  const contender = await contenders[name](target)
  const start = process.cpuUsage()
  const burst = contender.cases['small object'] as () => void
  for (let i = 0; i < BURST; i++) burst()
  await contender.close()
  results.push({
    case: `burst of ${BURST.toLocaleString('en')} small objects incl. drain`,
    contender: name,
    opsPerSec: Math.round(BURST / (cpuNs(start) / 1e9)),
  })
  return results
}

// One call per iteration, through a call site that sees every case (so the JIT cannot inline
// a case into the loop and delete it: a disabled call is measured as the call it is).
function runBatch(fn: () => void, n: number): void {
  for (let i = 0; i < n; i++) fn()
}

function cpuNs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return (d.user + d.system) * 1000
}

/**
 * Nanoseconds of CPU per call, the median of batches of about 20 ms run for SAMPLE_MS. CPU time
 * of the whole process (writes, GC and JIT threads included) rather than wall time, so that
 * another process taking the core does not count against whoever runs at that moment. Each
 * batch is measured until the contender has settled (its queued writes done), so a logger that
 * defers work pays for it in the figure; waiting itself is idle and costs no CPU.
 */
async function measureCpu(fn: () => void, settle: () => Promise<void>): Promise<number> {
  let n = 256
  for (;;) {
    const start = process.cpuUsage()
    runBatch(fn, n)
    await settle()
    if (cpuNs(start) >= 20e6 || n >= 2 ** 30) break
    n *= 2
  }
  const samples: number[] = []
  const until = performance.now() + SAMPLE_MS
  while (samples.length < 5 || performance.now() < until) {
    const start = process.cpuUsage()
    runBatch(fn, n)
    await settle()
    samples.push(cpuNs(start) / n)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)] as number
}

async function runParent(): Promise<void> {
  const self = fileURLToPath(import.meta.url)
  const dir = mkdtempSync(join(tmpdir(), 'beaver-log-bench-'))
  const all: Array<Result & { target: string }> = []
  // On a shared machine another process can steal the CPU during one contender's turn: each
  // contender runs ROUNDS times, interleaved with the others, and keeps its best figure per case.
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of TARGETS) {
        for (const name of CONTENDERS) {
          const dest = target === 'file' ? join(dir, `${name}.log`) : '/dev/null'
          const out = execFileSync(process.execPath, [...process.execArgv, self, '--child', name, dest], {
            encoding: 'utf8',
            env: { ...process.env, BEAVER_LOG_KIT: '', BEAVER_LOG_OUTPUTS: '' },
            maxBuffer: 16 * 1024 * 1024,
          })
          const results = JSON.parse(out.trim().split('\n').at(-1) as string) as Result[]
          for (const r of results) {
            const known = all.find((a) => a.target === target && a.case === r.case && a.contender === r.contender)
            if (known === undefined) all.push({ ...r, target })
            else if (r.opsPerSec > known.opsPerSec) Object.assign(known, r)
          }
          process.stderr.write(`round ${round + 1}/${ROUNDS}: ${target} ${name}\n`)
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  print(all)
  const file = join(fileURLToPath(new URL('.', import.meta.url)), 'results.json')
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        node: process.version,
        date: new Date().toISOString(),
        cpu: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)`,
        quick: QUICK,
        rounds: ROUNDS,
        loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
        results: all.map((r) => ({
          case: `${r.case} → ${r.target}`,
          contender: r.contender,
          opsPerSec: r.opsPerSec,
        })),
      },
      null,
      2,
    )}\n`,
  )
  console.log(`\nwrote ${file}`)
}

function print(all: Array<Result & { target: string }>): void {
  const fmt = (n: number): string => n.toLocaleString('en')
  for (const target of TARGETS) {
    console.log(`\n## lines/s to ${target}\n`)
    console.log(
      '| case | beaver-kit | kit, no key redaction | pino (same mode) | winston | floor | kit/pino | no-keys/pino | kit/winston |',
    )
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    const cases = [...new Set(all.filter((r) => r.target === target).map((r) => r.case))]
    for (const c of cases) {
      const get = (n: ContenderName): number =>
        all.find((r) => r.target === target && r.case === c && r.contender === n)?.opsPerSec ?? NaN
      const kit = get('beaver-kit')
      const noKeys = get('kit-no-keys')
      const pinoOps = get('pino')
      console.log(
        `| ${c} | ${fmt(kit)} | ${fmt(noKeys)} | ${fmt(pinoOps)} | ${fmt(get('winston'))} | ${fmt(get('floor'))} | ${(kit / pinoOps).toFixed(2)} | ${(noKeys / pinoOps).toFixed(2)} | ${(kit / get('winston')).toFixed(1)} |`,
      )
    }
  }
}
