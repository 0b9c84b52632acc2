import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createDatabase, type DatabaseOptions, type Database } from '../src/index.ts'

const CHILD = fileURLToPath(new URL('./fixtures/migrate-child.ts', import.meta.url))

/** A database that reads no environment, so a developer's BEAVER_DB_* never leaks into tests. */
export function testDatabase(url: string, overrides: Omit<DatabaseOptions, 'url' | 'envPrefix'> = {}): Database {
  return createDatabase({ url, envPrefix: false, ...overrides })
}

/** Runs the migration child on `url` and collects its output. */
export function migrateInChild(
  url: string,
  dir: string,
  table: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@beaver-kit/source', '--no-warnings', CHILD, url, dir, table],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
