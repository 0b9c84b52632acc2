// What a user gets from npm, checked before anything is published (run after `npm run build`):
//   pack     `npm pack` every public package; each tarball holds LICENSE, README, dist and no tests
//   consume  a fresh project with only the tarballs and their required dependencies: the smoke
//            (scripts/release/consumer) type-checks with skipLibCheck: false under nodenext and
//            under bundler resolution, and runs on Node 24
//   floor    the same smoke on each package's declared engines.node floor, with that Node
//            installed from the registry (node-<os>-<cpu>@<floor>, as the repository gets 24)
//   peers    every optional peer at the lowest and the newest version its range accepts, with a
//            smoke of the driver that uses it (scripts/release/peers.ts)
// floor and peers run side by side, each in its own copy of the consumer project.
//
//   npm run check:release                       every phase
//   npm run check:release -- --only floor       pack, consume and the phases named (floor, peers)
//   npm run check:release -- --keep             keep the temporary folder to look into
// Failures of a package listed in .ci/allow-list (pack, floor, peers) are printed but allowed.
import { execFile, spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { loadAllowList } from './allow-list.ts'
import { PEERS, UNTESTED, type PeerLine } from './release/peers.ts'
import { workspaces } from './workspaces.ts'

interface Manifest {
  name: string
  engines?: { node?: string }
  peerDependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}
type Check = 'pack' | 'floor' | 'peers'

/** Which package each smoke step of smoke.ts exercises (for the floors and the allow-list). */
const STEP_PACKAGE: Record<string, string> = {
  core: '@beaver-kit/core',
  config: '@beaver-kit/config',
  logger: '@beaver-kit/logger',
  database: '@beaver-kit/database',
  'database-kysely-missing': '@beaver-kit/database',
  cache: '@beaver-kit/cache',
  queue: '@beaver-kit/queue',
  ratelimit: '@beaver-kit/ratelimit',
  session: '@beaver-kit/session',
  auth: '@beaver-kit/auth',
  scheduler: '@beaver-kit/scheduler',
  http: '@beaver-kit/http',
  krypto: '@beaver-kit/krypto',
  oauth: '@beaver-kit/oauth',
  mail: '@beaver-kit/mail',
  sms: '@beaver-kit/sms',
  delivery: '@beaver-kit/delivery',
  metrics: '@beaver-kit/metrics',
  health: '@beaver-kit/health',
  storage: '@beaver-kit/storage',
  tracing: '@beaver-kit/tracing',
  audit: '@beaver-kit/audit',
}
const SMOKE_TIMEOUT_MS = 60_000
const INSTALL = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline']

const root = process.cwd()
const argv = process.argv.slice(2)
const only = argv.includes('--only') ? (argv[argv.indexOf('--only') + 1] ?? '').split(',') : ['floor', 'peers']
const keep = argv.includes('--keep')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
const failed: Record<Check, Set<string>> = { pack: new Set(), floor: new Set(), peers: new Set() }
const run = promisify(execFile)
const started = Date.now()
const clock = (): string => `${Math.round((Date.now() - started) / 1000)}s`

/** A phase's lines, printed together when it ends, so phases running side by side stay readable. */
class Log {
  readonly lines: string[]
  constructor(title: string) {
    this.lines = [`\n[${clock()}] ${title}`]
  }
  say(line: string): void {
    this.lines.push(line)
  }
  flush(): void {
    console.log(this.lines.join('\n'))
  }
}

const work = mkdtempSync(join(tmpdir(), 'beaver-release-'))
try {
  const publics = workspaces(root).filter((w) => !w.private)
  const manifests = new Map(
    publics.map((w) => [w.name, JSON.parse(readFileSync(join(w.dir, 'package.json'), 'utf8')) as Manifest]),
  )
  const packLog = new Log(`pack: ${publics.length} packages`)
  for (const w of publics.filter((p) => !Object.values(STEP_PACKAGE).includes(p.name))) {
    failed.pack.add(w.name)
    packLog.say(`  ${w.name}: no smoke step; add one to scripts/release/consumer/smoke.ts and STEP_PACKAGE`)
  }
  const tarballs = await pack(
    publics.map((w) => w.name),
    packLog,
  )
  packLog.flush()

  const consumeLog = new Log('consume: a fresh project with the tarballs and no optional peer')
  const consumer = join(work, 'consumer')
  await createConsumer(consumer, tarballs)
  await typecheck(consumer, ['run.ts', 'smoke.ts'], ['nodenext', 'bundler'], 'pack', consumeLog)
  await smoke(consumer, process.execPath, 'smoke', Object.keys(STEP_PACKAGE), {}, consumeLog, (s) => [
    'pack',
    STEP_PACKAGE[s],
  ])
  consumeLog.flush()

  const later: Array<Promise<void>> = []
  if (only.includes('floor')) later.push(floors(consumer, manifests))
  if (only.includes('peers')) {
    const copy = join(work, 'consumer-peers')
    cpSync(consumer, copy, { recursive: true, verbatimSymlinks: true })
    later.push(peers(copy, manifests))
  }
  await Promise.all(later)
} finally {
  if (keep) console.log(`\nkept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}

const allow = loadAllowList(root)
let blocking = 0
for (const check of ['pack', 'floor', 'peers'] as const) blocking += allow.settle(check, failed[check])
console.log(`\nrelease check: ${blocking === 0 ? 'ok' : `${blocking} package(s) failing`} in ${clock()}`)
process.exit(blocking > 0 ? 1 : 0)

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

async function pack(names: string[], log: Log): Promise<string[]> {
  const dest = join(work, 'tarballs')
  mkdirSync(dest)
  const out = JSON.parse(
    await npm(['pack', '--json', '--pack-destination', dest, ...names.flatMap((n) => ['-w', n])], root),
  ) as Array<{ name: string; filename: string; size: number; files: Array<{ path: string }> }>
  for (const t of out) {
    const files = new Set(t.files.map((f) => f.path))
    const lacking = ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts'].filter(
      (f) => !files.has(f),
    )
    const tests = [...files].filter((f) => /(^|\/)(test|bench)\/|\.test\.[jt]s$/.test(f))
    if (lacking.length === 0 && tests.length === 0) {
      log.say(`  ${t.filename}: ${t.files.length} files, ${Math.round(t.size / 1024)} kB`)
      continue
    }
    failed.pack.add(t.name)
    const build = files.has('dist/index.js') ? '' : ' (run `npm run build` first)'
    log.say(`  ${t.name}: FAILED: lacks ${lacking.join(', ') || '-'}; ships tests: ${tests.join(', ') || '-'}${build}`)
  }
  return out.map((t) => join(dest, t.filename))
}

async function createConsumer(dir: string, tarballs: string[]): Promise<void> {
  mkdirSync(join(dir, 'src'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  const dev = rootPkg.devDependencies ?? {}
  await npm([...INSTALL, ...tarballs, `typescript@${dev.typescript}`, `@types/node@${dev['@types/node']}`], dir)
  const compilerOptions = {
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    target: 'es2023',
    lib: ['es2024', 'esnext.disposable'],
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
  }
  const configs = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out', rootDir: 'src' },
    bundler: { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
  }
  for (const [name, options] of Object.entries(configs)) {
    const config = { compilerOptions: { ...compilerOptions, ...options }, include: ['src'] }
    writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2))
  }
}

/**
 * Copies consumer files into the project and type-checks them with skipLibCheck off (nodenext
 * also emits the JavaScript every run uses). An error inside a kit package's declarations fails
 * that package; one inside a third party's own declarations is printed, not counted: the kit
 * cannot fix it, and a user sees it with or without the kit.
 */
async function typecheck(dir: string, files: string[], modes: string[], check: Check, log: Log): Promise<void> {
  for (const f of files) cpSync(join(root, 'scripts', 'release', 'consumer', f), join(dir, 'src', f))
  for (const mode of modes) {
    const result = await run(
      join(dir, 'node_modules', '.bin', 'tsc'),
      ['-p', `tsconfig.${mode}.json`, '--pretty', 'false'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    ).then(
      () => '',
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    )
    const errors = result.split('\n').filter((l) => /error TS\d+/.test(l))
    const ours = errors.filter((l) => !/^node_modules\//.test(l) || /^node_modules\/@beaver-kit\//.test(l))
    const theirs = errors.filter((l) => !ours.includes(l))
    if (result && errors.length === 0) ours.push(result.trim())
    for (const l of ours) failed[check].add(/^node_modules\/(@beaver-kit\/[^/]+)\//.exec(l)?.[1] ?? 'consumer')
    log.say(`  tsc ${mode}, skipLibCheck false: ${ours.length === 0 ? 'ok' : 'FAILED'}`)
    for (const l of ours) log.say(`      ${l}`)
    if (theirs.length > 0) {
      const libs = new Set(theirs.map((l) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(l)?.[1]))
      log.say(`      (not counted: ${theirs.length} error(s) in the declarations of ${[...libs].join(', ')} itself)`)
    }
  }
}

/** Runs consumer steps on one Node; a missing `ok <step>`, a failure or a hang fails the step's package. */
function smoke(
  dir: string,
  node: string,
  script: 'smoke' | 'smoke-peers',
  steps: string[],
  env: Record<string, string>,
  log: Log,
  blame: (step: string) => [Check, string | undefined],
  label = `Node ${process.versions.node}`,
): Promise<void> {
  const unique = `smoke_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const settings = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll('{unique}', unique)]))
  const child = spawn(node, [join('out', `${script}.js`)], {
    cwd: dir,
    // Only what a shell gives: no BEAVER_* of the caller, so the steps run on embedded defaults.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SMOKE_STEPS: steps.join(','), ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), SMOKE_TIMEOUT_MS)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const passed = new Set([...output.matchAll(/^ok (\S+)$/gm)].map((m) => m[1]))
      const bad = steps.filter((s) => !passed.has(s))
      if (bad.length === 0 && code === 0) {
        log.say(`  ${label}: ${steps.join(', ')}: ok`)
        return resolve()
      }
      for (const s of bad.length > 0 ? bad : steps) {
        const [check, pkg] = blame(s)
        failed[check].add(pkg ?? 'consumer')
      }
      const why = signal === 'SIGKILL' ? `still running after ${SMOKE_TIMEOUT_MS / 1000}s` : `exit ${signal ?? code}`
      log.say(`  ${label}: FAILED (${bad.join(', ') || why})`)
      for (const l of output.trimEnd().split('\n').slice(0, 40)) log.say(`      ${l}`)
      resolve()
    })
  })
}

/** Each package's steps on the oldest Node its engines.node accepts; the versions side by side. */
async function floors(dir: string, manifests: Map<string, Manifest>): Promise<void> {
  const byFloor = new Map<string, string[]>()
  const log = new Log('floor: each package on the oldest Node it declares')
  for (const [step, pkg] of Object.entries(STEP_PACKAGE)) {
    const floor = /^>=(\d+\.\d+\.\d+)$/.exec(manifests.get(pkg)?.engines?.node ?? '')?.[1]
    if (floor) byFloor.set(floor, [...(byFloor.get(floor) ?? []), step])
    else {
      failed.floor.add(pkg)
      log.say(`  ${pkg}: engines.node must be ">=x.y.z" to be proven`)
    }
  }
  await Promise.all(
    [...byFloor].map(async ([version, steps]) => {
      const node = await installNode(version, log)
      if (node) await smoke(dir, node, 'smoke', steps, {}, log, (s) => ['floor', STEP_PACKAGE[s]], `Node ${version}`)
      else for (const s of steps) failed.floor.add(STEP_PACKAGE[s] as string)
    }),
  )
  log.flush()
}

/** node-<os>-<cpu>@version from the registry into the work folder; its bin/node. */
async function installNode(version: string, log: Log): Promise<string | undefined> {
  const name = `node-${process.platform}-${process.arch}`
  const dir = join(work, `node-${version}`)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), '{"private":true}')
  try {
    await npm([...INSTALL, `${name}@${version}`], dir)
  } catch (err) {
    const why = String((err as Error).message).split('\n')[0]
    log.say(`  the registry has no ${name}@${version} to prove the floor on (${why}); run this check on linux-x64`)
    return undefined
  }
  const bin = join(dir, 'node_modules', name, 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  const { stdout } = await run(bin, ['--version'], { encoding: 'utf8' })
  if (stdout.trim() !== `v${version}`) throw new Error(`${name}@${version} reports ${stdout.trim()}`)
  return bin
}

/** Every optional peer at both ends of its range, with the smoke of its driver. */
async function peers(dir: string, manifests: Map<string, Manifest>): Promise<void> {
  const log = new Log('peers: every optional peer at the lowest and the newest version its range accepts')
  const ranges = new Map<string, { range: string; from: string }>()
  for (const [name, m] of manifests) {
    for (const [peer, range] of Object.entries(m.peerDependencies ?? {})) {
      if (peer.startsWith('@beaver-kit/')) continue
      if (!PEERS.some((l) => l.package === name && l.peer === peer) && !(`${name} ${peer}` in UNTESTED)) {
        failed.peers.add(name)
        log.say(`  ${name}: the optional peer ${peer} has no line in scripts/release/peers.ts`)
      }
      const seen = ranges.get(peer)
      if (seen && seen.range !== range) {
        failed.peers.add(name)
        log.say(`  ${name}: ${peer}@"${range}" but ${seen.from} says "${seen.range}": one peer, one range`)
      }
      ranges.set(peer, { range, from: name })
    }
  }
  for (const [key, why] of Object.entries(UNTESTED)) log.say(`  not installed: ${key}: ${why}`)
  const lines: PeerLine[] = []
  for (const l of PEERS) {
    if (manifests.get(l.package)?.peerDependencies?.[l.peer] !== undefined) lines.push(l)
    else {
      failed.peers.add(l.package)
      log.say(`  ${l.package} does not declare the peer ${l.peer} that scripts/release/peers.ts lists`)
    }
  }
  const names = [...new Set(lines.map((l) => l.peer))]
  const versions = new Map<string, string[]>()
  await Promise.all(
    names.map(async (peer) => {
      const range = ranges.get(peer)?.range as string
      const list = JSON.parse(await npm(['view', `${peer}@${range}`, 'version', '--json'], work)) as string | string[]
      versions.set(peer, (Array.isArray(list) ? list : [list]).sort(compareVersions))
    }),
  )
  for (const end of ['lowest', 'newest'] as const) {
    const pick = (peer: string): string => {
      const list = versions.get(peer) as string[]
      return (end === 'lowest' ? list[0] : list.at(-1)) as string
    }
    const installs = names.map((p) => `${p}@${pick(p)}`)
    log.say(`\n  [${clock()}] ${end}: ${installs.join(' ')}`)
    await npm([...INSTALL, ...installs, ...new Set(lines.flatMap((l) => l.with ?? []))], dir)
    await typecheck(dir, ['run.ts', 'smoke.ts', 'smoke-peers.ts'], ['nodenext'], 'peers', log)
    // The drivers' smokes side by side (own namespaces and databases), a few at a time.
    const queue = [...lines]
    const next = async (): Promise<void> => {
      for (let line = queue.shift(); line; line = queue.shift()) {
        const { package: pkg, peer, script, steps, env } = line
        const label = `${peer}@${pick(peer)} (${pkg.replace('@beaver-kit/', '')})`
        await smoke(dir, process.execPath, script, steps, env ?? {}, log, () => ['peers', pkg], label)
      }
    }
    await Promise.all([next(), next(), next(), next()])
  }
  log.flush()
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number)
  const pb = b.split(/[.-]/).map(Number)
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}
