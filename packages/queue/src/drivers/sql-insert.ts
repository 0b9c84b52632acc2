import type { Queryable } from '@beaver-kit/database'
import type { DriverMessage } from '../driver.ts'
import type { Row } from './sql-rows.ts'
import type { JobsTable } from './sql-table.ts'

const INSERT_COLUMNS =
  'id, queue, state, priority, run_at, max_attempts, backoff_base, backoff_max, timeout_ms, group_key, dedupe_key, payload, headers, created_at'

/**
 * Inserts one chunk of messages of one queue in one statement and returns the id each one has:
 * its own, or, for a duplicate id or a pending dedupe key, the id of the message already there.
 * On PostgreSQL the statement also notifies the queue's LISTEN channel.
 */
export async function insertJobs(
  run: Queryable,
  t: JobsTable,
  queue: string,
  chunk: DriverMessage[],
): Promise<Map<DriverMessage, string>> {
  const values: unknown[] = []
  const rows: string[] = []
  for (const m of chunk) {
    rows.push('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    values.push(
      m.id,
      queue,
      'waiting',
      m.priority,
      m.runAt,
      m.maxAttempts,
      m.backoffBaseMs,
      m.backoffMaxMs,
      m.timeoutMs,
      m.group ?? null,
      m.dedupeKey ?? null,
      m.payload,
      Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : null,
      m.createdAt,
    )
  }
  let inserted: Row[]
  if (t.dialect === 'postgres') {
    values.push(t.prefix, queue)
    // The notification rides in the INSERT (committed with it; inside a caller's transaction,
    // delivered only when it commits), so an idle worker wakes without an extra round trip.
    inserted = (
      await run.query(
        t.q(
          `with ins as (insert into ${t.jobs} (${INSERT_COLUMNS}) values ${rows.join(', ')} on conflict do nothing returning id)
             select id, (select pg_notify(?, ?)) as notified from ins`,
        ),
        values,
      )
    ).rows
  } else if (t.dialect === 'sqlite') {
    inserted = (
      await run.query(
        `insert into ${t.jobs} (${INSERT_COLUMNS}) values ${rows.join(', ')} on conflict do nothing returning id`,
        values,
      )
    ).rows
  } else {
    inserted = (
      await run.query(`insert ignore into ${t.jobs} (${INSERT_COLUMNS}) values ${rows.join(', ')} returning id`, values)
    ).rows
  }
  const result = new Map<DriverMessage, string>()
  const fresh = new Set(inserted.map((r) => String(r.id)))
  const missing: DriverMessage[] = []
  const claimed = new Set<string>()
  for (const m of chunk) {
    if (fresh.has(m.id) && !claimed.has(m.id)) {
      claimed.add(m.id)
      result.set(m, m.id)
    } else missing.push(m)
  }
  if (missing.length > 0) {
    const keys = missing.flatMap((m) => (m.dedupeKey === undefined ? [] : [m.dedupeKey]))
    const idList = missing.map(() => '?').join(', ')
    const keyList = keys.length > 0 ? ` or dedupe_key in (${keys.map(() => '?').join(', ')})` : ''
    const existing = (
      await run.query(t.q(`select id, dedupe_key from ${t.jobs} where queue = ? and (id in (${idList})${keyList})`), [
        queue,
        ...missing.map((m) => m.id),
        ...keys,
      ])
    ).rows
    const byId = new Set(existing.map((r) => String(r.id)))
    const byKey = new Map(existing.filter((r) => r.dedupe_key != null).map((r) => [String(r.dedupe_key), String(r.id)]))
    for (const m of missing) {
      if (byId.has(m.id)) result.set(m, m.id)
      else if (m.dedupeKey !== undefined && byKey.has(m.dedupeKey)) result.set(m, byKey.get(m.dedupeKey) as string)
      else result.set(m, m.id)
    }
  }
  return result
}
