import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Each test its own database file and migrations directory, so no test depends on another. */
function workspace(): { url: string; migrations: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'beaver-cli-'))
  dirs.push(dir)
  const migrations = join(dir, 'migrations')
  mkdirSync(migrations)
  writeFileSync(
    join(migrations, '0001_notes.sql'),
    '-- migrate:up\ncreate table notes (id varchar(36) primary key, body text not null);\n-- migrate:down\ndrop table notes;\n',
  )
  writeFileSync(
    join(migrations, '0002_seed.sql'),
    "-- migrate:up\ninsert into notes values ('n1', 'first');\n-- migrate:down\ndelete from notes;\n",
  )
  const url = `sqlite:${join(dir, 'cli.db')}`
  return { url, migrations, args: ['--url', url, '--dir', migrations] }
}

function capture(): { io: { out(l: string): void; err(l: string): void }; out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (l) => void out.push(l), err: (l) => void err.push(l) }, out, err }
}

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
function spawnCli(args: string[], env: Record<string, string> = {}): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, ['--conditions=@beaver-kit/source', '--no-warnings', cli, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  })
}

describe('beaver-db CLI', () => {
  it('runs migrate status, up --dry-run, up, and down', async () => {
    const { args } = workspace()
    let c = capture()
    expect(await runCli(['migrate', 'status', ...args], c.io)).toBe(0)
    expect(c.out.join('\n')).toMatch(/0001_notes\s+pending\n0002_seed\s+pending/)

    c = capture()
    expect(await runCli(['migrate', 'up', '--dry-run', ...args], c.io)).toBe(0)
    expect(c.out).toContain('-- would apply 0001_notes')
    expect(c.out.join('\n')).toContain('create table notes')

    c = capture()
    expect(await runCli(['migrate', 'up', ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.replace(/\(\d+ ms\)/, ''))).toEqual(['applied 0001_notes ', 'applied 0002_seed '])

    c = capture()
    expect(await runCli(['migrate', 'up', ...args], c.io)).toBe(0)
    expect(c.out).toEqual(['Nothing to apply: every migration is applied.'])

    c = capture()
    expect(await runCli(['migrate', 'down', '--dry-run', ...args], c.io)).toBe(0)
    expect(c.out).toEqual(['-- would revert 0002_seed', 'delete from notes;'])

    c = capture()
    expect(await runCli(['migrate', 'down', '--steps', '2', ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['reverted 0002_seed', 'reverted 0001_notes'])

    c = capture()
    expect(await runCli(['migrate', 'down', ...args], c.io)).toBe(0)
    expect(c.out).toEqual(['Nothing to revert.'])
  })

  it('applies and reverts to a given migration, in a table of its own', async () => {
    const { args } = workspace()
    const table = ['--table', 'cli_history']
    let c = capture()
    expect(await runCli(['migrate', 'up', '--to', '0001_notes', ...table, ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['applied 0001_notes'])
    c = capture()
    expect(await runCli(['migrate', 'status', ...table, ...args], c.io)).toBe(0)
    expect(c.out.join('\n')).toMatch(/0001_notes\s+applied\s+\d{4}-.*\n0002_seed\s+pending/)
    // The default table knows nothing of it.
    c = capture()
    expect(await runCli(['migrate', 'status', ...args], c.io)).toBe(0)
    expect(c.out.join('\n')).toMatch(/0001_notes\s+pending/)
    c = capture()
    expect(await runCli(['migrate', 'up', ...table, ...args], c.io)).toBe(0)
    c = capture()
    expect(await runCli(['migrate', 'down', '--to', '0001_notes', ...table, ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['reverted 0002_seed'])
  })

  it('exits 1 from status when an applied migration was edited or removed, and says when there are none', async () => {
    const { args, migrations } = workspace()
    expect(await runCli(['migrate', 'up', ...args], capture().io)).toBe(0)
    writeFileSync(join(migrations, '0001_notes.sql'), '-- migrate:up\ncreate table notes (id integer);\n')
    unlinkSync(join(migrations, '0002_seed.sql'))
    const c = capture()
    expect(await runCli(['migrate', 'status', ...args], c.io)).toBe(1)
    expect(c.out.join('\n')).toMatch(/0001_notes\s+changed[\s\S]*0002_seed\s+missing/)
    const empty = workspace()
    rmSync(join(empty.migrations, '0001_notes.sql'))
    rmSync(join(empty.migrations, '0002_seed.sql'))
    const e = capture()
    expect(await runCli(['migrate', 'status', ...empty.args], e.io)).toBe(0)
    expect(e.out).toEqual(['No migrations found.'])
  })

  it('pings the database and prints its latency', async () => {
    const { url } = workspace()
    const c = capture()
    expect(await runCli(['ping', '--url', url], c.io)).toBe(0)
    expect(c.out).toEqual([expect.stringMatching(/^ok: sqlite answered in \d+\.\d ms$/)])
  })

  it('exits 2 with usage on no command, a bad command, a bad option or bad --steps; 0 with --help', async () => {
    let c = capture()
    expect(await runCli([], c.io)).toBe(2)
    expect(c.err.join('\n')).toMatch(/needs a command[\s\S]*Usage: beaver-db/)
    expect(c.out).toEqual([])
    c = capture()
    expect(await runCli(['migrate', 'sideways'], c.io)).toBe(2)
    expect(c.err.join('\n')).toMatch(/Unknown command "migrate sideways"[\s\S]*Usage: beaver-db/)
    c = capture()
    expect(await runCli(['migrate', 'up', '--frobnicate'], c.io)).toBe(2)
    expect(c.err.join('\n')).toMatch(/frobnicate[\s\S]*Usage: beaver-db/)
    c = capture()
    expect(await runCli(['migrate', 'down', '--steps', 'two'], c.io)).toBe(2)
    expect(c.err).toEqual(['--steps must be a positive integer, got "two"'])
    c = capture()
    expect(await runCli(['--help'], c.io)).toBe(0)
    expect(c.out.join('\n')).toMatch(/^Usage: beaver-db/)
    expect(c.err).toEqual([])
  })

  it('exits 1 with the error code on a failure', async () => {
    const { url, migrations } = workspace()
    const c = capture()
    expect(await runCli(['migrate', 'up', '--url', url, '--dir', join(migrations, 'nope')], c.io)).toBe(1)
    expect(c.err.join('\n')).toMatch(/^beaver-db: DB_MIGRATION: Cannot read the migrations directory/)
  })

  it('runs as an executable with the database from the environment, and exits 2 with no arguments', () => {
    const { url, migrations } = workspace()
    const res = spawnCli(['migrate', 'status', '--dir', migrations], { BEAVER_DB_URL: url })
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(res.stdout).toMatch(/0001_notes\s+pending/)
    const bare = spawnCli([])
    expect(bare.status).toBe(2)
    expect(bare.stderr).toMatch(/Usage: beaver-db/)
    expect(bare.stdout).toBe('')
  })
})
