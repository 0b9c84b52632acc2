import { randomUUID } from 'node:crypto'
import type { Database } from '@beaver-kit/database'
import type { Delivery, FetchOptions } from '../driver.ts'
import { CLAIM_COLUMNS, sortRows, toDelivery, type Row } from './sql-rows.ts'
import type { JobsTable } from './sql-table.ts'

const SET_ACTIVE = `state = 'active', attempt = attempt + 1, lease_until = ?, token = ?`

/**
 * Claims up to `options.max` ready messages of a queue for one lease (`FOR UPDATE SKIP LOCKED`
 * where the database has it), highest priority first, then oldest; fairly across groups
 * when `options.groupLimit` is set. On PostgreSQL without groups, `completed` deliveries are
 * completed by the same statement (the caller completes them itself anywhere else).
 */
export async function claimJobs(
  database: Database,
  t: JobsTable,
  queue: string,
  options: FetchOptions,
  now: number,
  completed: readonly Delivery[] = [],
): Promise<Delivery[]> {
  const token = randomUUID()
  const lease = now + options.leaseMs
  const ready = `queue = ? and state = 'waiting' and run_at <= ?`
  const order = 'order by priority desc, run_at, seq'
  let rows: Row[]
  if (options.groupLimit !== undefined) {
    rows = await claimFair(database, t, queue, options, now, lease, token)
  } else if (t.dialect === 'postgres') {
    // A data-modifying WITH runs to completion whether or not the claim reads it; the rows it
    // completes are active, the claim takes waiting ones: they never meet. It finds them by
    // (queue, id) and token (see JobsTable.activeCheck: with "state = 'active'" it read 1,500
    // stale entries of the active index and 88 heap blocks after 1,500 claims, not 100 and 4). `seq = any(array(...))`
    // and not `seq in (...)`: the planner joined the IN list by hashing a scan of the whole
    // table (every waiting and kept row, on every claim); the array is looked up in the key.
    const held = completed.length > 0 ? t.held(completed) : undefined
    const done = held
      ? `with done as (update ${t.jobs} set state = 'completed', finished_at = ?, dedupe_key = null, token = null, lease_until = null
           where queue = ? and ${t.activeCheck}${held.where}) `
      : ''
    rows = (
      await database.query(
        t.q(
          `${done}update ${t.jobs} set ${SET_ACTIVE} where seq = any(array(select seq from ${t.jobs} where ${ready} ${order} limit ? for update skip locked)) returning ${CLAIM_COLUMNS}`,
        ),
        [...(held ? [now, queue, ...held.values] : []), lease, token, queue, now, options.max],
      )
    ).rows
  } else if (t.dialect === 'sqlite') {
    rows = (
      await database.query(
        `update ${t.jobs} set ${SET_ACTIVE} where seq in (select seq from ${t.jobs} where ${ready} ${order} limit ?) returning ${CLAIM_COLUMNS}`,
        [lease, token, queue, now, options.max],
      )
    ).rows
  } else {
    rows = await database.transaction(
      async (tx) => {
        const picked = await tx.many<{ seq: unknown }>(
          `select seq from ${t.jobs} where ${ready} ${order} limit ? for update skip locked`,
          [queue, now, options.max],
        )
        if (picked.length === 0) return []
        const seqs = picked.map((r) => r.seq)
        const marks = seqs.map(() => '?').join(', ')
        await tx.execute(`update ${t.jobs} set ${SET_ACTIVE} where seq in (${marks})`, [lease, token, ...seqs])
        return tx.many(`select ${CLAIM_COLUMNS} from ${t.jobs} where seq in (${marks})`, seqs)
      },
      { retries: 3 },
    )
  }
  return sortRows(rows).map((r) => {
    const d = toDelivery(r, queue, token)
    d.leaseUntil = lease
    return d
  })
}

// Fair claims rank each group's ready messages (row_number per group) and take rank 1 of
// every group before rank 2 of any, skipping groups at their limit. A window query cannot
// lock rows, so the claim of one queue is serialized: an advisory lock on PostgreSQL, a named
// lock on MariaDB; SQLite runs the one statement atomically anyway.
async function claimFair(
  database: Database,
  t: JobsTable,
  queue: string,
  options: FetchOptions,
  now: number,
  lease: number,
  token: string,
): Promise<Row[]> {
  const limit = options.groupLimit as number
  const pick = `
      select seq from (
        select j.seq, j.group_key, j.priority, j.run_at,
               row_number() over (partition by j.group_key order by j.priority desc, j.run_at, j.seq) as rn
        from ${t.jobs} j where j.queue = ? and j.state = 'waiting' and j.run_at <= ?
      ) r
      left join (select group_key as g, count(*) as busy from ${t.jobs} where queue = ? and state = 'active' and group_key is not null group by group_key) a
        on a.g = r.group_key
      where r.group_key is null or r.rn + coalesce(a.busy, 0) <= ?
      order by r.rn, r.priority desc, r.run_at, r.seq
      limit ?`
  const params = [queue, now, queue, limit, options.max]
  if (t.dialect === 'sqlite') {
    return (
      await database.query(
        `update ${t.jobs} set ${SET_ACTIVE} where seq in (select seq from (${pick})) returning ${CLAIM_COLUMNS}`,
        [lease, token, ...params],
      )
    ).rows
  }
  return database.transaction(
    async (tx) => {
      if (t.dialect === 'postgres')
        await tx.query(`select pg_advisory_xact_lock(hashtext($1))`, [`${t.prefix}:${queue}`])
      else await tx.query(`select get_lock(?, 10)`, [`${t.prefix}:${queue}`.slice(0, 64)])
      try {
        const seqs = (await tx.many<{ seq: unknown }>(t.q(pick), params)).map((r) => r.seq)
        if (seqs.length === 0) return []
        const marks = seqs.map(() => '?').join(', ')
        if (t.dialect === 'postgres') {
          return (
            await tx.query(
              t.q(`update ${t.jobs} set ${SET_ACTIVE} where seq in (${marks}) returning ${CLAIM_COLUMNS}`),
              [lease, token, ...seqs],
            )
          ).rows
        }
        await tx.execute(`update ${t.jobs} set ${SET_ACTIVE} where seq in (${marks})`, [lease, token, ...seqs])
        return tx.many(`select ${CLAIM_COLUMNS} from ${t.jobs} where seq in (${marks})`, seqs)
      } finally {
        if (t.dialect === 'mysql') await tx.query(`select release_lock(?)`, [`${t.prefix}:${queue}`.slice(0, 64)])
      }
    },
    { retries: 3 },
  )
}
