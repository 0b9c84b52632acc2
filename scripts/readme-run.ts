// Runs every README code block that claims to run (fenced ```ts run), the way a reader would:
// written into the README's own folder as a temporary .ts file, type-checked together, then
// executed with `node --conditions=@beaver-kit/source` against the real local services, twice
// (a quick start must also work the second time). A block fails on a type error, a non-zero
// exit, or when it has not exited after its time limit: a script that never ends left a
// connection open (end it with `await shutdown()` or `await using`).
//
//   npm run readme                      every README (root, packages/*, examples/*)
//   npm run readme -- --package cache   one package
//   npm run readme -- --once            one run per block (faster while editing)
//
// An info string may set a longer limit for a slow block: ```ts run timeout=120s
// Failing packages may be listed in .ci/allow-list (`readme <package>`); every public package
// README needs at least one `ts run` block (its zero-config quick start).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative } from 'node:path'
import { loadAllowList } from './allow-list.ts'
import { extractRunBlocks, type RunBlock } from './readme-blocks.ts'
import { workspaces } from './workspaces.ts'

const root = process.cwd()
const argv = process.argv.slice(2)
const only = argv.includes('--package') ? argv[argv.indexOf('--package') + 1]?.replace(/^@beaver-kit\//, '') : undefined
const runs = argv.includes('--once') ? 1 : 2
const DEFAULT_TIMEOUT_MS = 60_000

interface Job extends RunBlock {
  /** Workspace name (or "beaver-kit" for the root README). */
  owner: string
  readme: string
  dir: string
  file: string
}

interface Outcome {
  job: Job
  ok: boolean
  detail: string
}

const readmes: Array<{ owner: string; dir: string; private: boolean }> = [
  { owner: 'beaver-kit', dir: root, private: true },
  ...workspaces(root).map((w) => ({ owner: w.name, dir: w.dir, private: w.private })),
]
const jobs: Job[] = []
const missing: string[] = []
for (const r of readmes) {
  if (only && r.owner.replace(/^@beaver-kit\//, '') !== only) continue
  const readme = join(r.dir, 'README.md')
  const blocks = existsSync(readme) ? extractRunBlocks(readFileSync(readme, 'utf8')) : []
  if (blocks.length === 0 && !r.private && r.dir !== root) missing.push(r.owner)
  blocks.forEach((block, i) => {
    const file = join(r.dir, `.readme-run-${i + 1}.ts`)
    jobs.push({ ...block, owner: r.owner, readme: relative(root, readme), dir: r.dir, file })
  })
}

const failures: Outcome[] = []
try {
  for (const job of jobs) writeFileSync(job.file, job.code)
  const typeErrors = typecheck(jobs)
  failures.push(...typeErrors)
  const broken = new Set(typeErrors.map((o) => o.job))
  // Blocks of one README run in order (they may share a database file); READMEs run side by side.
  const byReadme = Map.groupBy(
    jobs.filter((j) => !broken.has(j)),
    (j) => j.readme,
  )
  const queues = [...byReadme.values()]
  const workers = Math.max(1, Math.min(3, availableParallelism()))
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let queue = queues.shift(); queue; queue = queues.shift()) {
        for (const job of queue) {
          const outcome = await runTwice(job)
          console.log(
            `${outcome.ok ? 'ok  ' : 'FAIL'} ${job.readme}:${job.line}${outcome.ok ? '' : `  ${outcome.detail.split('\n')[0]}`}`,
          )
          if (!outcome.ok) failures.push(outcome)
        }
      }
    }),
  )
} finally {
  for (const job of jobs) rmSync(job.file, { force: true })
  rmSync(join(root, '.readme-run.tsconfig.json'), { force: true })
}

const failed = new Set<string>()
for (const f of failures) {
  failed.add(f.job.owner)
  console.error(`\n--- ${f.job.readme}:${f.job.line} (${f.job.owner})\n${f.detail.trimEnd()}`)
}
for (const owner of missing) {
  failed.add(owner)
  console.error(`\n--- ${owner}: its README has no \`\`\`ts run block (the zero-config quick start CI executes)`)
}
const blocking = loadAllowList(root).settle('readme', failed)
console.log(
  `\nreadme blocks: ${jobs.length - failures.length} of ${jobs.length} ran (${runs}x each), ${failed.size} package(s) failing`,
)
process.exit(blocking > 0 ? 1 : 0)

/** One tsc run over every block, with the repository's compiler options; errors point at README lines. */
function typecheck(all: Job[]): Outcome[] {
  if (all.length === 0) return []
  const config = join(root, '.readme-run.tsconfig.json')
  writeFileSync(
    config,
    JSON.stringify({
      extends: './tsconfig.base.json',
      compilerOptions: { noEmit: true },
      files: all.map((j) => relative(root, j.file)),
    }),
  )
  const tsc = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', config, '--pretty', 'false'], {
    encoding: 'utf8',
  })
  const out: Outcome[] = []
  for (const line of `${tsc.stdout}${tsc.stderr}`.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line)
    const job = m && all.find((j) => join(root, m[1] as string) === j.file)
    if (!m || !job) continue
    const at = job.line + Number(m[2])
    const known = out.find((o) => o.job === job)
    const message = `${job.readme}:${at}: ${m[4]}`
    if (known) known.detail += `\n${message}`
    else out.push({ job, ok: false, detail: `type error\n${message}` })
  }
  if (tsc.status !== 0 && out.length === 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`)
  return out
}

async function runTwice(job: Job): Promise<Outcome> {
  for (let i = 1; i <= runs; i++) {
    const result = await runOnce(job)
    if (!result.ok) return { ...result, detail: `${i === 2 ? 'second run: ' : ''}${result.detail}` }
  }
  return { job, ok: true, detail: '' }
}

function runOnce(job: Job): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {}
  // The reader's environment has no BEAVER_* settings: quick starts run on embedded defaults.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BEAVER_')) env[k] = v
  const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', job.file], {
    cwd: job.dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const limit = job.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
      resolve({
        job,
        ok: false,
        detail:
          `still running after ${limit / 1000}s: something holds the process open (a connection or timer); ` +
          `end the block with \`await shutdown()\` from @beaver-kit/core or use \`await using\`\n${output}`,
      })
    }, limit)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve({ job, ok: true, detail: output })
      else resolve({ job, ok: false, detail: `exited with ${signal ?? `code ${code}`}\n${output}` })
    })
  })
}
