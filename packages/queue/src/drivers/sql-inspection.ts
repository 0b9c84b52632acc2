import type { Database } from '@beaver-kit/database'
import type { QueueCounts, StoredMessage } from '../driver.ts'
import { COLUMNS, toStored } from './sql-rows.ts'
import type { JobsTable } from './sql-table.ts'

// What the queue shows of its messages (counts, one message, the queues) and does with its
// dead letters (list, replay, purge), each one statement on the jobs table.

export async function countJobs(database: Database, t: JobsTable, queue: string, now: number): Promise<QueueCounts> {
  const rows = await database.many<{ state: string; later: unknown; failed: unknown; n: unknown }>(
    t.q(
      `select state, later, failed, count(*) as n from (
           select state, case when run_at > ? then 1 else 0 end as later, case when last_error is null then 0 else 1 end as failed
           from ${t.jobs} where queue = ?) s
         group by state, later, failed`,
    ),
    [now, queue],
  )
  const counts: QueueCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, dead: 0 }
  for (const r of rows) {
    const n = Number(r.n)
    if (r.state === 'waiting') {
      if (Number(r.later) === 1) counts.delayed += n
      else counts.waiting += n
      if (Number(r.failed) === 1) counts.failed += n
    } else if (r.state === 'active') counts.active += n
    else if (r.state === 'completed') counts.completed += n
    else if (r.state === 'dead') counts.dead += n
  }
  return counts
}

export async function getJob(
  database: Database,
  t: JobsTable,
  queue: string,
  id: string,
  now: () => number,
): Promise<StoredMessage | undefined> {
  const row = await database.maybeOne(t.q(`select ${COLUMNS} from ${t.jobs} where queue = ? and id = ?`), [queue, id])
  return row ? toStored(row, now()) : undefined
}

export async function listQueues(database: Database, t: JobsTable): Promise<string[]> {
  return (await database.many<{ queue: string }>(`select distinct queue from ${t.jobs}`)).map((r) => String(r.queue))
}

export async function listDeadJobs(
  database: Database,
  t: JobsTable,
  queue: string,
  options: { limit: number; offset: number },
  now: () => number,
): Promise<StoredMessage[]> {
  const rows = await database.many(
    t.q(
      `select ${COLUMNS} from ${t.jobs} where queue = ? and state = 'dead' order by finished_at desc, seq desc limit ? offset ?`,
    ),
    [queue, options.limit, options.offset],
  )
  const at = now()
  return rows.map((r) => toStored(r, at))
}

function which(ids: readonly string[] | 'all'): { where: string; values: unknown[] } {
  if (ids === 'all') return { where: '', values: [] }
  return { where: ` and id in (${ids.map(() => '?').join(', ')})`, values: [...ids] }
}

/** Dead messages back to waiting, due now, with their attempts reset; returns how many. */
export async function replayDeadJobs(
  database: Database,
  t: JobsTable,
  queue: string,
  ids: readonly string[] | 'all',
  now: number,
): Promise<number> {
  const w = which(ids)
  const r = await database.execute(
    t.q(
      `update ${t.jobs} set state = 'waiting', attempt = 0, run_at = ?, dead_reason = null, finished_at = null, cancel_requested = 0, token = null
         where queue = ? and state = 'dead'${w.where}`,
    ),
    [now, queue, ...w.values],
  )
  return r.affectedRows
}

export async function purgeDeadJobs(
  database: Database,
  t: JobsTable,
  queue: string,
  ids: readonly string[] | 'all',
): Promise<number> {
  const w = which(ids)
  const r = await database.execute(t.q(`delete from ${t.jobs} where queue = ? and state = 'dead'${w.where}`), [
    queue,
    ...w.values,
  ])
  return r.affectedRows
}
