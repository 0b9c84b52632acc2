import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  createDatabase,
  defineDatabaseDriver,
  type DatabaseDriverDefinition,
  type DatabaseOptions,
  type Database,
} from '../src/index.ts'

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

/**
 * A definition whose driver records each statement (and BEGIN/COMMIT/ROLLBACK) and answers one
 * row; `failCommits` makes the first commits fail with an error it classifies as a
 * serialization failure.
 */
export function fakeDefinition(name: string, calls: string[], failCommits = 0): DatabaseDriverDefinition {
  let commitFailures = failCommits
  return defineDatabaseDriver({
    name,
    dialect: 'postgres',
    peers: [],
    async create() {
      const conn = {
        query: async (text: string) => (calls.push(text), { rows: [{ ok: 1 }], rowCount: 1, affectedRows: 0 }),
        exec: async () => undefined,
        stream: async function* () {
          yield [{ ok: 1 }]
        },
        begin: async () => void calls.push('BEGIN'),
        commit: async () => {
          calls.push('COMMIT')
          if (commitFailures-- > 0) throw Object.assign(new Error('could not serialize access'), { code: '40001' })
        },
        rollback: async () => void calls.push('ROLLBACK'),
        release: () => undefined,
      }
      return {
        native: null,
        query: conn.query,
        acquire: async () => conn,
        classify: (err: unknown) =>
          (err as { code?: unknown }).code === '40001'
            ? { code: 'DB_SERIALIZATION' as const, driverCode: '40001', retryable: true }
            : undefined,
        stats: () => ({ total: 0, idle: 0, waiting: 0, max: 1 }),
        close: async () => undefined,
      }
    },
  })
}
