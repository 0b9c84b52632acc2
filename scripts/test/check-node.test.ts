import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const platform = `${process.platform}-${process.arch}`
let dir: string | undefined

/** A copy of check-node.mjs beside a package.json with the given fields; its exit and stderr. */
function check(manifest: object, args: string[] = [], workspace?: object): { status: number | null; stderr: string } {
  dir = mkdtempSync(join(tmpdir(), 'check-node-'))
  mkdirSync(join(dir, 'scripts'))
  cpSync(join(import.meta.dirname, '..', 'check-node.mjs'), join(dir, 'scripts', 'check-node.mjs'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest))
  if (workspace) {
    mkdirSync(join(dir, 'examples', 'demo'), { recursive: true })
    writeFileSync(join(dir, 'examples', 'demo', 'package.json'), JSON.stringify(workspace))
  }
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'check-node.mjs'), ...args], { encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('scripts/check-node.mjs', () => {
  it('passes on a Node at or above the root floor', () => {
    expect(check({ engines: { node: `>=${process.versions.node}` } })).toEqual({ status: 0, stderr: '' })
  })

  it('below the floor on a platform the registry serves, says to run npm install', () => {
    const r = check({ engines: { node: '>=99.0.0' }, optionalDependencies: { [`node-${platform}`]: '^24' } })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(`Beaver Kit's tests and scripts need Node >=99.0.0; this is ${process.version}`)
    expect(r.stderr).toContain(
      `Fix: run \`npm install\` first. It installs Node 24 from the npm package node-${platform}`,
    )
  })

  it('below the floor on a platform the registry lacks, names what to install', () => {
    const r = check({ engines: { node: '>=99.0.0' }, optionalDependencies: { 'node-plan9-mips': '^24' } })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(`The npm registry has no Node 24 package for ${platform}`)
    expect(r.stderr).toContain('provides one only on plan9-mips')
    expect(r.stderr).toContain('`nvm install 24`')
  })

  it("checks a workspace's own floor when given its folder", () => {
    const r = check({ engines: { node: '>=1.0.0' } }, ['examples/demo'], {
      name: 'demo',
      engines: { node: '>=99.1.2' },
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('demo needs Node >=99.1.2')
  })

  it('refuses a floor it cannot compare', () => {
    const r = check({ name: 'x', engines: { node: '^22 || ^24' } })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('engines.node of x must be ">=MAJOR.MINOR.PATCH"; found "^22 || ^24"')
  })
})
