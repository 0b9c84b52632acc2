import {
  describeInstance,
  resolveConfig,
  toMs,
  type InstanceDescription,
  type InstanceOptions,
} from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { createRedactor } from '@beaver-kit/logger'
import { loadSigner, type AnchorSigner } from './anchor.ts'
import { channels } from './channels.ts'
import { auditSchema, STREAM_NAME, type AuditSettings } from './config.ts'
import { AuditError } from './errors.ts'
import { CSV_HEADER, csvLine, jsonLine, type ExportFormat } from './export.ts'
import { logSink, type AuditLogger } from './log-sink.ts'
import { prepareEvent, sealRecord } from './prepare.ts'
import { encodeCursor, toStoreQuery, type AuditPage, type AuditQuery } from './query.ts'
import { toAuditRecord, type AuditEvent, type AuditRecord, type StoredRecord } from './record.ts'
import type { AuditAnchor, AuditStore } from './store.ts'
import { MemoryStore } from './stores/memory.ts'
import { NoneStore } from './stores/none.ts'
import { SqlStore, type SqlStoreOptions } from './stores/sql.ts'
import { checkAnchors } from './verify-anchors.ts'
import { verifyChain, type VerifyResult } from './verify.ts'

export interface AuditOptions extends AuditSettings, InstanceOptions {
  /** A built store (yours, or one shared by several instances); overrides `store`. */
  storeInstance?: AuditStore
  /** A database of @beaver-kit/database for the database store (never closed by the audit). */
  database?: SqlStoreOptions['database']
  /** The logger of the log sink. Default: the default `logger()` of @beaver-kit/logger. */
  logger?: AuditLogger
  /** The anchor key as a KeyObject, PEM, JWK or bytes (instead of `BEAVER_AUDIT_ANCHOR_KEY`). */
  anchorKey?: unknown
  /** Milliseconds since the epoch; a fake clock in tests. Default `Date.now`. */
  clock?: () => number
}

/** Options of `verify()`, `anchor()` and `prune()`. */
export interface StreamOptions {
  /** Default: `BEAVER_AUDIT_STREAM`. */
  stream?: string
  signal?: AbortSignal
}

/** What `prune()` did. */
export interface PruneResult {
  deleted: number
  /** The streams whose start was deleted, with their new checkpoint. */
  streams: Array<{ stream: string; deleted: number; baseSeq: number }>
}

/** An audit trail: create with `createAudit()`, or use the default `audit()`. */
export interface Audit extends Instance<InstanceDescription> {
  /** `database`, `memory`, `none` (log only), or a custom store's name. */
  readonly store: string
  /** Appends one event to its stream's chain (secrets censored) and answers the stored record. */
  record(event: AuditEvent): Promise<AuditRecord>
  /** One page of records matching the filter; pass the page's `cursor` for the next. */
  query(query?: AuditQuery): Promise<AuditPage>
  /** Checks a stream's chain (and its signed anchors) and answers the first altered, deleted, inserted or moved record. */
  verify(options?: StreamOptions): Promise<VerifyResult>
  /** Checks the chain since the last anchor, then signs and stores an anchor of its head (needs an anchor key). */
  anchor(options?: StreamOptions): Promise<AuditAnchor | undefined>
  /** Deletes records older than `olderThan`, keeping each chain verifiable from a checkpoint. */
  prune(options: { olderThan: string | number; stream?: string; signal?: AbortSignal }): Promise<PruneResult>
  /** The records matching the filter as JSON lines or CSV, page by page, oldest first unless `order: 'desc'`. */
  export(query?: Omit<AuditQuery, 'cursor' | 'limit'>, options?: { format?: ExportFormat }): AsyncIterable<string>
  /** Every stream with records. */
  streams(): Promise<string[]>
}

/**
 * Builds an audit trail from options, then `BEAVER_AUDIT_*`, then defaults (the database
 * store on the default `db()`: SQLite `./data/beaver.db` when nothing is set). Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using trail = createAudit({ store: 'memory' })
 * await trail.record({ action: 'link.delete', actor: 'user:1', target: 'link:7' })
 * const { ok } = await trail.verify()
 */
export function createAudit(options: AuditOptions = {}): Audit {
  const { envPrefix, env, storeInstance, database, logger, anchorKey, clock = Date.now, ...settings } = options
  const resolved = resolveConfig(auditSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const v = resolved.values
  const prefix = envPrefix === false ? '' : (envPrefix ?? 'BEAVER_')
  if (v.store === 'none' && !v.log && !storeInstance) {
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      `${prefix}AUDIT_STORE is none and ${prefix}AUDIT_LOG is false: records would go nowhere; keep them in a store, the log, or both`,
    )
  }
  const store: AuditStore =
    storeInstance ??
    (v.store === 'memory'
      ? new MemoryStore()
      : v.store === 'none'
        ? new NoneStore()
        : new SqlStore({ database, url: v.db?.url, table: v.db?.table }))
  const sync = store instanceof MemoryStore || store instanceof NoneStore ? store : undefined
  const redactor = createRedactor({ keys: v.redactKeys, paths: v.redact, censor: v.censor })
  const prepareContext = { defaultStream: v.stream, maxEventSize: v.maxEventSize, redactor, clock }
  const log = v.log ? logSink(logger) : undefined
  const key = anchorKey ?? v.anchor?.key
  let signer: Promise<AnchorSigner> | undefined
  const getSigner = (): Promise<AnchorSigner> | undefined => {
    if (key === undefined) return undefined
    signer ??= loadSigner(key, v.anchor?.algorithm ?? 'HS256')
    return signer
  }
  let closed = false
  const timers: NodeJS.Timeout[] = []

  function open(): void {
    if (closed) throw new AuditError('AUDIT_CLOSED', 'This audit trail is closed; create a new one.')
  }

  function streamOf(stream: string | undefined): string {
    const s = stream ?? v.stream
    if (!STREAM_NAME.test(s))
      throw new AuditError('AUDIT_EVENT_INVALID', 'A stream is 1 to 128 letters, digits, _ . : or -')
    return s
  }

  async function append(event: AuditEvent): Promise<StoredRecord> {
    const prepared = prepareEvent(event, prepareContext)
    const seal = (head: { seq: number; hash: string }) => sealRecord(prepared, head)
    if (sync && !channels.record.hasSubscribers) return sync.appendSync(prepared, seal)
    return traceAsync(
      channels.record,
      () => ({ store: store.name, stream: prepared.stream, action: prepared.action }),
      () => store.append(prepared, seal),
    )
  }

  async function anchorStream(stream: string, signal?: AbortSignal): Promise<AuditAnchor | undefined> {
    const pending = getSigner()
    if (!pending) {
      throw new AuditError(
        'AUDIT_NOT_SUPPORTED',
        `anchor() needs a key: set ${prefix}AUDIT_ANCHOR_KEY (and @beaver-kit/krypto installed)`,
      )
    }
    const s = await pending
    if (!s.canSign) {
      throw new AuditError(
        'AUDIT_NOT_SUPPORTED',
        'The anchor key is a public key: it checks anchors but cannot sign them',
      )
    }
    const state = await store.state(stream)
    if (!state || state.head.seq === 0) return undefined
    const last = (await store.anchors(stream)).at(-1)
    if (last && (last.seq > state.head.seq || (last.seq === state.head.seq && last.hash !== state.head.hash))) {
      throw new AuditError(
        'AUDIT_CHAIN_BROKEN',
        `The ${stream} chain is broken, so it was not anchored: its head (#${state.head.seq}) is not what the last anchor (#${last.seq}) vouched for`,
        { details: { stream } },
      )
    }
    if (last && last.seq === state.head.seq) return last
    // Never sign a broken chain: check what was written since the last anchor (or the checkpoint).
    const from = last && last.seq > state.base.seq ? { seq: last.seq, hash: last.hash } : state.base
    const check = await verifyChain(store, stream, { head: state.head, base: from }, signal)
    if (!check.ok) {
      throw new AuditError(
        'AUDIT_CHAIN_BROKEN',
        `The ${stream} chain is broken, so it was not anchored: ${check.problem?.message}`,
        {
          details: { stream, problem: check.problem },
        },
      )
    }
    const unsigned = { stream, seq: state.head.seq, hash: state.head.hash, at: clock() }
    const anchor: AuditAnchor = { ...unsigned, alg: s.alg, signature: s.sign(unsigned) }
    await store.addAnchor(anchor)
    if (channels.anchor.hasSubscribers) channels.anchor.publish({ stream, seq: anchor.seq })
    return anchor
  }

  const audit: Audit = {
    store: store.name,
    async record(event) {
      open()
      const stored = await append(event)
      log?.(stored)
      return toAuditRecord(stored)
    },
    async query(q = {}) {
      open()
      const sq = toStoreQuery(q, v.pageSize, v.maxPageSize)
      const rows = await store.query(sq)
      const more = rows.length > sq.limit - 1
      const page = more ? rows.slice(0, sq.limit - 1) : rows
      const last = page.at(-1)
      return {
        records: page.map(({ pos: _, ...r }) => toAuditRecord(r)),
        ...(more && last ? { cursor: encodeCursor(sq.order, last.pos) } : {}),
      }
    },
    async verify(o = {}) {
      open()
      const stream = streamOf(o.stream)
      return traceAsync(
        channels.verify,
        () => ({ store: store.name, stream }),
        async () => {
          const state = await store.state(stream)
          const chain = await verifyChain(store, stream, state, o.signal)
          const pending = getSigner()
          if (!pending) return { ...chain, anchors: 0 }
          const anchors = await checkAnchors(store, stream, chain, await pending)
          return {
            ...chain,
            anchors: anchors.checked,
            ...(chain.ok && anchors.problem ? { ok: false, problem: anchors.problem } : {}),
          }
        },
      )
    },
    async anchor(o = {}) {
      open()
      return anchorStream(streamOf(o.stream), o.signal)
    },
    async prune(o) {
      open()
      const olderThan = toMs(o.olderThan, 'prune() olderThan')
      const cutoff = clock() - olderThan
      const streams = o.stream === undefined ? await store.streams() : [streamOf(o.stream)]
      const result: PruneResult = { deleted: 0, streams: [] }
      for (const stream of streams) {
        o.signal?.throwIfAborted()
        const point = await store.olderPrefix(stream, cutoff)
        if (!point) continue
        // The checkpoint is signed before the records behind it go, when there is a key: the
        // retained chain then starts from a point an attacker cannot move.
        if (getSigner() && (await getSigner())?.canSign) await anchorStream(stream, o.signal)
        const deleted = await store.prune(stream, point.seq)
        if (deleted === 0) continue
        result.deleted += deleted
        result.streams.push({ stream, deleted, baseSeq: point.seq })
        if (channels.prune.hasSubscribers) channels.prune.publish({ stream, deleted, baseSeq: point.seq })
      }
      return result
    },
    export(q = {}, { format = 'jsonl' } = {}) {
      open()
      if (format !== 'jsonl' && format !== 'csv') {
        throw new AuditError('AUDIT_EVENT_INVALID', `export(): format is jsonl or csv; got ${String(format)}`)
      }
      const line = format === 'csv' ? csvLine : jsonLine
      return (async function* exportLines() {
        if (format === 'csv') yield CSV_HEADER
        let cursor: string | undefined
        do {
          const sq = toStoreQuery(
            { order: 'asc', ...q, limit: v.maxPageSize, ...(cursor ? { cursor } : {}) },
            v.pageSize,
            v.maxPageSize,
          )
          const rows = await store.query(sq)
          const page = rows.slice(0, sq.limit - 1)
          for (const { pos: _, ...r } of page) yield line(r)
          const last = page.at(-1)
          cursor = rows.length > page.length && last ? encodeCursor(sq.order, last.pos) : undefined
        } while (cursor)
      })()
    },
    streams: () => store.streams(),
    ready: () => store.ready(),
    describe: () => describeInstance('audit', envPrefix, resolved.entries, { store: store.name, closed }),
    async close() {
      if (closed) return
      closed = true
      for (const t of timers) clearInterval(t)
      if (!storeInstance) await store.close()
    },
    [Symbol.asyncDispose]: () => audit.close(),
  }

  function background(job: 'anchor' | 'retention', everyMs: number, run: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      run().catch((error: unknown) => {
        if (channels.jobError.hasSubscribers) channels.jobError.publish({ job, error })
      })
    }, everyMs)
    timer.unref()
    timers.push(timer)
  }
  const anchorEvery = v.anchor?.interval ?? 0
  if (anchorEvery > 0 && key !== undefined) {
    background('anchor', anchorEvery, async () => {
      for (const stream of await store.streams()) await anchorStream(stream)
    })
  }
  if (v.retention > 0)
    background('retention', Math.min(v.retention, 3_600_000), () => audit.prune({ olderThan: v.retention }))
  return audit
}
