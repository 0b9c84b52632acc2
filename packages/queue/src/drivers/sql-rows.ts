import type { Delivery, StoredMessage } from '../driver.ts'

/** A row of the jobs table as the database returns it. */
export type Row = Record<string, unknown>

/** Every column of the jobs table a message is read back from. */
export const COLUMNS =
  'seq, id, queue, state, priority, run_at, attempt, max_attempts, backoff_base, backoff_max, timeout_ms, group_key, dedupe_key, payload, headers, token, last_error, dead_reason, progress, created_at, finished_at'

/**
 * What a claim reads back: what a delivery needs and its sort keys. The queue and token are the
 * claim's own, and the state, finish and progress columns say nothing about an active message.
 */
export const CLAIM_COLUMNS =
  'seq, id, priority, run_at, attempt, max_attempts, backoff_base, backoff_max, timeout_ms, group_key, dedupe_key, payload, headers, last_error, created_at'

function text(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v)
}

/** A row as a delivery; a claim passes the queue and token it claimed with (CLAIM_COLUMNS has neither). */
export function toDelivery(r: Row, queue = String(r.queue), token = String(r.token)): Delivery {
  return {
    id: String(r.id),
    queue,
    payload: String(r.payload),
    headers: r.headers == null ? {} : (JSON.parse(String(r.headers)) as Record<string, string>),
    priority: Number(r.priority),
    runAt: Number(r.run_at),
    maxAttempts: Number(r.max_attempts),
    backoffBaseMs: Number(r.backoff_base),
    backoffMaxMs: Number(r.backoff_max),
    timeoutMs: Number(r.timeout_ms),
    group: text(r.group_key),
    dedupeKey: text(r.dedupe_key),
    createdAt: Number(r.created_at),
    attempt: Number(r.attempt),
    token,
    lastError: text(r.last_error),
  }
}

// RETURNING gives rows in no promised order: hand them out in claim order.
export function sortRows(rows: Row[]): Row[] {
  return rows.sort(
    (a, b) =>
      Number(b.priority) - Number(a.priority) || Number(a.run_at) - Number(b.run_at) || Number(a.seq) - Number(b.seq),
  )
}

export function toStored(r: Row, now: number): StoredMessage {
  const d = toDelivery(r)
  const raw = String(r.state)
  const state = raw === 'waiting' && d.runAt > now ? 'delayed' : (raw as StoredMessage['state'])
  return {
    ...d,
    state,
    attempt: d.attempt,
    lastError: d.lastError,
    deadReason: text(r.dead_reason),
    finishedAt: r.finished_at == null ? undefined : Number(r.finished_at),
    progress: text(r.progress),
  }
}
