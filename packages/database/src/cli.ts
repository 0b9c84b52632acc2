#!/usr/bin/env node
// beaver-db: migrations from the command line, on the database that BEAVER_DB_* / DATABASE_URL describe.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createDatabase } from './database.ts'
import type { MigrationPlan } from './migrations.ts'

const USAGE = `Usage: beaver-db <command> [options]

Commands:
  migrate up       apply pending migrations        [--to <id>] [--dry-run]
  migrate down     revert applied migrations       [--steps <n> | --to <id>] [--dry-run]
  migrate status   list migrations and their state
  ping             check the database answers

Options:
  --dir <path>     migrations directory (default BEAVER_DB_MIGRATIONS_DIR, ./migrations)
  --table <name>   migrations table (default BEAVER_DB_MIGRATIONS_TABLE, beaver_migrations)
  --url <url>      database URL (default BEAVER_DB_URL / DATABASE_URL, else SQLite in ./data)
  --help           show this help
`

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(line: string): void
  err(line: string): void
}

function printPlan(plan: MigrationPlan, io: CliIo): void {
  const verb = plan.direction === 'up' ? 'apply' : 'revert'
  if (plan.steps.length === 0) {
    io.out(plan.direction === 'up' ? 'Nothing to apply: every migration is applied.' : 'Nothing to revert.')
    return
  }
  for (const step of plan.steps) {
    if (plan.dryRun) {
      io.out(`-- would ${verb} ${step.id}`)
      io.out(step.sql)
    } else {
      io.out(`${plan.direction === 'up' ? 'applied' : 'reverted'} ${step.id} (${step.durationMs ?? 0} ms)`)
    }
  }
}

/**
 * Runs the CLI with `argv` (without node and the script); resolves with the exit code.
 * @example process.exitCode = await runCli(['migrate', 'status'])
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        table: { type: 'string' },
        url: { type: 'string' },
        to: { type: 'string' },
        steps: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    })
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, sub] = positionals
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  if (command === undefined) {
    io.err(`beaver-db needs a command.\n\n${USAGE}`)
    return 2
  }
  if (command !== 'ping' && !(command === 'migrate' && (sub === 'up' || sub === 'down' || sub === 'status'))) {
    io.err(`Unknown command "${positionals.join(' ')}".\n\n${USAGE}`)
    return 2
  }
  const steps = values.steps === undefined ? undefined : Number(values.steps)
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
    io.err(`--steps must be a positive integer, got "${values.steps}"`)
    return 2
  }
  const db = createDatabase(values.url ? { url: values.url } : {})
  try {
    if (command === 'ping') {
      io.out(`ok: ${db.driver} answered in ${(await db.ping()).toFixed(1)} ms`)
      return 0
    }
    const migrator = db.migrator({
      ...(values.dir ? { dir: values.dir } : {}),
      ...(values.table ? { table: values.table } : {}),
      log: () => undefined,
    })
    if (sub === 'status') {
      const status = await migrator.status()
      if (status.length === 0) io.out('No migrations found.')
      const width = Math.max(0, ...status.map((s) => s.id.length))
      for (const s of status) io.out(`${s.id.padEnd(width)}  ${s.state.padEnd(8)}  ${s.appliedAt ?? ''}`.trimEnd())
      return status.some((s) => s.state === 'changed' || s.state === 'missing') ? 1 : 0
    }
    const dryRun = values['dry-run']
    const plan =
      sub === 'up'
        ? await migrator.up({ dryRun, ...(values.to ? { to: values.to } : {}) })
        : await migrator.down({ dryRun, ...(values.to ? { to: values.to } : {}), ...(steps ? { steps } : {}) })
    printPlan(plan, io)
    return 0
  } catch (err) {
    const code = (err as { code?: string }).code
    io.err(`beaver-db: ${code ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`)
    return 1
  } finally {
    await db.close()
  }
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isMain()) process.exitCode = await runCli(process.argv.slice(2))
