import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'beaver-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const url = `sqlite:${join(dir, 'cli.db')}`
const migrations = join(dir, 'migrations')

function capture(): { io: { out(l: string): void; err(l: string): void }; out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (l) => void out.push(l), err: (l) => void err.push(l) }, out, err }
}

describe('beaver-db CLI', () => {
  it('runs migrate status, up --dry-run, up, down from code', async () => {
    mkdirSync(migrations, { recursive: true })
    writeFileSync(
      join(migrations, '0001_links.sql'),
      '-- migrate:up\ncreate table links (slug text primary key, url text not null);\n-- migrate:down\ndrop table links;\n',
    )
    writeFileSync(
      join(migrations, '0002_seed.sql'),
      "-- migrate:up\ninsert into links values ('gh', 'https://github.com');\n-- migrate:down\ndelete from links;\n",
    )
    const args = ['--url', url, '--dir', migrations]

    let c = capture()
    expect(await runCli(['migrate', 'status', ...args], c.io)).toBe(0)
    expect(c.out.join('\n')).toMatch(/0001_links\s+pending/)

    c = capture()
    expect(await runCli(['migrate', 'up', '--dry-run', ...args], c.io)).toBe(0)
    expect(c.out).toContain('-- would apply 0001_links')
    expect(c.out.join('\n')).toContain('create table links')

    c = capture()
    expect(await runCli(['migrate', 'up', ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.replace(/\(\d+ ms\)/, ''))).toEqual(['applied 0001_links ', 'applied 0002_seed '])

    c = capture()
    expect(await runCli(['migrate', 'down', '--steps', '2', ...args], c.io)).toBe(0)
    expect(c.out.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['reverted 0002_seed', 'reverted 0001_links'])
  })

  it('exits 2 with usage on a bad command, 1 with the error code on a failure', async () => {
    let c = capture()
    expect(await runCli(['migrate', 'sideways'], c.io)).toBe(2)
    expect(c.err.join('\n')).toMatch(/Usage: beaver-db/)
    c = capture()
    expect(await runCli(['migrate', 'up', '--url', url, '--dir', join(dir, 'nope')], c.io)).toBe(1)
    expect(c.err.join('\n')).toMatch(/DB_MIGRATION: Cannot read the migrations directory/)
  })

  it('runs as an executable with the database from the environment', () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
    const res = spawnSync(
      process.execPath,
      ['--conditions=@beaver-kit/source', '--no-warnings', cli, 'migrate', 'status', '--dir', migrations],
      {
        env: { ...process.env, BEAVER_DB_URL: url },
        encoding: 'utf8',
      },
    )
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(res.stdout).toMatch(/0001_links\s+pending/)
  })
})
