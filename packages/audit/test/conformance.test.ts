import { afterAll } from 'vitest'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { describeAuditStore, type AuditSubject, type AuditTamper } from '@beaver-kit/testkit/audit'
import { createAudit, MemoryStore, recordHash, SqlStore, type AuditStore, type StoredRecord } from '@beaver-kit/audit'

const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-audit-'))
const databases: Array<{ db: Database; table: string }> = []
afterAll(async () => {
  for (const { db, table } of databases) {
    for (const t of ['events', 'heads', 'anchors', 'migrations']) await db.execute(`drop table if exists ${table}_${t}`)
    // PostgreSQL's append function (migration 0003) goes with its tables.
    if (db.dialect === 'postgres')
      for (const f of ['append', 'append_batch', 'append_after', 'append_after_batch'])
        await db.execute(`drop function if exists ${table}_${f}`)
    await db.close()
  }
  rmSync(dir, { recursive: true, force: true })
})

function subject(store: AuditStore, tamper: AuditTamper, shared: AuditStore = store): AuditSubject {
  const trails: Array<{ close(): Promise<void> }> = []
  return {
    make(options = {}) {
      const { anchorKey, clock, ...settings } = options
      const trail = createAudit({
        envPrefix: false,
        storeInstance: shared,
        ...settings,
        ...(anchorKey ? { anchorKey } : {}),
        ...(clock ? { clock } : {}),
      })
      trails.push(trail)
      return trail
    },
    tamper,
    async close() {
      for (const t of trails) await t.close()
    },
  }
}

// The memory store, tampered with through its live rows.
const memory = new MemoryStore()
const rowsOf = (stream: string): Array<Record<string, unknown>> => memory.unsafeRows(stream)
const find = (stream: string, seq: number): Record<string, unknown> => {
  const row = rowsOf(stream).find((r) => r.seq === seq)
  if (!row) throw new Error(`no row ${stream}#${seq}`)
  return row
}
/** A forged record that follows `prev`, correctly hashed. */
function forgery(stream: string, seq: number, prevHash: string): StoredRecord {
  const unsealed = {
    id: randomUUID(),
    stream,
    seq,
    at: Date.now(),
    actor: 'user:attacker',
    action: 'admin.grant',
    target: 'user:attacker',
    outcome: 'success' as const,
    ip: null,
    userAgent: null,
    requestId: null,
    traceId: null,
    diff: null,
    metadata: null,
    prevHash,
  }
  return { ...unsealed, hash: recordHash(unsealed) }
}

const camel = (column: string): string => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
const memoryTamper: AuditTamper = {
  set: async (stream, seq, column, value) => {
    find(stream, seq)[camel(column)] = column === 'metadata' && typeof value === 'string' ? JSON.parse(value) : value
  },
  remove: async (stream, seq) => {
    const rows = rowsOf(stream)
    rows.splice(rows.indexOf(find(stream, seq)), 1)
  },
  swap: async (stream, a, b) => {
    const ra = find(stream, a)
    const rb = find(stream, b)
    ra.seq = b
    rb.seq = a
  },
  closeGap: async (stream, after) => {
    for (const r of rowsOf(stream)) if ((r.seq as number) > after) r.seq = (r.seq as number) - 1
  },
  rewrite: async (stream, seq, action) => {
    const row = find(stream, seq)
    row.action = action
    row.hash = recordHash(row as unknown as StoredRecord)
  },
  forge: async (stream, seq) => {
    for (const r of rowsOf(stream)) if ((r.seq as number) >= seq) r.seq = (r.seq as number) + 1
    const forged = forgery(stream, seq, String(find(stream, seq - 1).hash))
    rowsOf(stream).push({ ...forged, pos: 0 })
  },
  setHead: async (stream, head) => {
    Object.assign(memory.unsafeHead(stream), head)
  },
}

describeAuditStore('memory', () => subject(memory, memoryTamper), { store: 'memory' })

/** Raw SQL against the audit tables, as someone with database access would run it. */
function sqlTamper(db: Database, table: string): AuditTamper {
  const q = (text: string): string => {
    if (db.dialect !== 'postgres') return text
    let n = 0
    return text.replace(/\?/g, () => `$${++n}`)
  }
  const run = (text: string, params: unknown[]) => db.execute(q(text), params)
  const t = `${table}_events`
  return {
    set: async (stream, seq, column, value) => {
      await run(`update ${t} set ${column} = ? where stream = ? and seq = ?`, [value, stream, seq])
    },
    remove: async (stream, seq) => {
      await run(`delete from ${t} where stream = ? and seq = ?`, [stream, seq])
    },
    swap: async (stream, a, b) => {
      await run(`update ${t} set seq = ? where stream = ? and seq = ?`, [-1, stream, a])
      await run(`update ${t} set seq = ? where stream = ? and seq = ?`, [a, stream, b])
      await run(`update ${t} set seq = ? where stream = ? and seq = ?`, [b, stream, -1])
    },
    closeGap: async (stream, after) => {
      const rows = await db.many<{ seq: number | string }>(
        q(`select seq from ${t} where stream = ? and seq > ? order by seq`),
        [stream, after],
      )
      for (const r of rows)
        await run(`update ${t} set seq = ? where stream = ? and seq = ?`, [Number(r.seq) - 1, stream, r.seq])
    },
    rewrite: async (stream, seq, action) => {
      const row = await db.one<Record<string, unknown>>(q(`select * from ${t} where stream = ? and seq = ?`), [
        stream,
        seq,
      ])
      const record = {
        id: String(row.id),
        stream,
        seq,
        at: Number(row.at),
        actor: (row.actor as string | null) ?? null,
        action,
        target: (row.target as string | null) ?? null,
        outcome: row.outcome as StoredRecord['outcome'],
        ip: (row.ip as string | null) ?? null,
        userAgent: (row.user_agent as string | null) ?? null,
        requestId: (row.request_id as string | null) ?? null,
        traceId: (row.trace_id as string | null) ?? null,
        diff: row.diff === null ? null : (JSON.parse(String(row.diff)) as StoredRecord['diff']),
        metadata: row.metadata === null ? null : (JSON.parse(String(row.metadata)) as StoredRecord['metadata']),
        prevHash: String(row.prev_hash),
      }
      await run(`update ${t} set action = ?, hash = ? where stream = ? and seq = ?`, [
        action,
        recordHash(record),
        stream,
        seq,
      ])
    },
    forge: async (stream, seq) => {
      const rows = await db.many<{ seq: number | string }>(
        q(`select seq from ${t} where stream = ? and seq >= ? order by seq desc`),
        [stream, seq],
      )
      for (const r of rows)
        await run(`update ${t} set seq = ? where stream = ? and seq = ?`, [Number(r.seq) + 1, stream, r.seq])
      const prev = await db.one<{ hash: string }>(q(`select hash from ${t} where stream = ? and seq = ?`), [
        stream,
        seq - 1,
      ])
      const f = forgery(stream, seq, prev.hash)
      await run(
        `insert into ${t} (id, stream, seq, at, actor, action, target, outcome, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [f.id, stream, seq, f.at, f.actor, f.action, f.target, f.outcome, f.prevHash, f.hash],
      )
    },
    setHead: async (stream, head) => {
      await run(`update ${table}_heads set seq = ?, hash = ? where stream = ?`, [head.seq, head.hash, stream])
      if (db.dialect !== 'sqlite') return
      // SQLite keeps the head in the records' forward links too: the new last record links
      // nowhere, and the one before it links to the head's hash.
      await run(`update ${t} set next_hash = null where stream = ? and seq = ?`, [stream, head.seq])
      await run(`update ${t} set next_hash = ? where stream = ? and seq = ?`, [head.hash, stream, head.seq - 1])
    },
  }
}

function sqlSubject(url: string): () => AuditSubject {
  const db = createDatabase({ url, envPrefix: false })
  // Tables of their own per run, so parallel runs never share a chain.
  const table = `audit_${Math.random().toString(36).slice(2, 10)}`
  databases.push({ db, table })
  return () => {
    const store = new SqlStore({ database: db, table })
    return subject(store, sqlTamper(db, table))
  }
}

describeAuditStore('sqlite', sqlSubject(`sqlite:${join(dir, 'audit.db')}`), { store: 'database' })
if (pg) describeAuditStore('postgres', sqlSubject(pg), { store: 'database' })
if (maria) describeAuditStore('mariadb', sqlSubject(maria), { store: 'database' })
