// The audit conformance suite: every @beaver-kit/audit store runs all of it against its real
// backend. Records round-trip exactly (what was hashed is what is read back), seq is assigned
// without gaps or forks by concurrent writers, verify() finds each attack done behind the
// kit's back (a row altered, deleted, swapped, renumbered, re-hashed; the end cut off),
// queries page without loss, retention keeps the chain verifiable, exports are checkable.
// The subject is typed structurally so the testkit does not depend on the audit package.
import { expect, it } from 'vitest'
import { defineConformanceSuite } from './conformance.ts'

interface Point {
  seq: number
  hash: string
}

interface ConformanceRecord {
  id: string
  stream: string
  seq: number
  at: Date
  actor: string | null
  action: string
  target: string | null
  outcome: string
  ip: string | null
  userAgent: string | null
  requestId: string | null
  traceId: string | null
  diff: Array<{ path: string; before?: unknown; after?: unknown }> | null
  metadata: Record<string, unknown> | null
  prevHash: string
  hash: string
}

interface ConformanceVerify {
  ok: boolean
  checked: number
  head: Point
  base: Point
  anchors: number
  problem?: { kind: string; seq: number; id?: string }
}

interface ConformanceQuery {
  stream?: string
  actor?: string
  target?: string
  action?: string
  outcome?: 'success' | 'failure' | 'denied' | 'error'
  from?: Date | number
  to?: Date | number
  limit?: number
  order?: 'asc' | 'desc'
  cursor?: string
}

interface ConformanceAudit {
  record(event: Record<string, unknown> & { action: string }): Promise<ConformanceRecord>
  query(q?: ConformanceQuery): Promise<{ records: ConformanceRecord[]; cursor?: string }>
  verify(o?: { stream?: string }): Promise<ConformanceVerify>
  anchor(o?: { stream?: string }): Promise<{ seq: number; hash: string } | undefined>
  prune(o: { olderThan: string | number; stream?: string }): Promise<{ deleted: number }>
  export(q?: Omit<ConformanceQuery, 'cursor' | 'limit'>, o?: { format?: 'jsonl' | 'csv' }): AsyncIterable<string>
  close(): Promise<void>
}

/** Changes made to the stored rows behind the kit's back, as an attacker with database access would. */
export interface AuditTamper {
  /** UPDATE one column of a record (`action`, `actor`, `metadata` as JSON text, `at`, ...). */
  set(stream: string, seq: number, column: string, value: string | number | null): Promise<void>
  /** DELETE one record. */
  remove(stream: string, seq: number): Promise<void>
  /** Exchanges the seq of two records. */
  swap(stream: string, a: number, b: number): Promise<void>
  /** Moves the seq of every record after `after` down by one (closing the gap a delete left). */
  closeGap(stream: string, after: number): Promise<void>
  /** Sets action of a record and recomputes its hash, as an attacker who knows the format would. */
  rewrite(stream: string, seq: number, action: string): Promise<void>
  /**
   * Inserts a forged record at `seq`, chained to the record before it and correctly hashed,
   * after moving every record from `seq` on one place up (the genuine ones keep their hashes).
   */
  forge(stream: string, seq: number): Promise<void>
  /** Moves the stream's head (what an attacker cutting the end off would also do). */
  setHead(stream: string, head: Point): Promise<void>
}

/** What a store's test gives the suite. */
export interface AuditSubject {
  /** An audit trail on this subject's store; records land in streams named after the namespace. */
  make(options?: {
    anchorKey?: string
    clock?: () => number
    pageSize?: number
    maxPageSize?: number
  }): ConformanceAudit
  tamper: AuditTamper
  close(): Promise<void>
}

const KEY = 'conformance-anchor-secret-of-32-bytes!'

export const describeAuditStore = defineConformanceSuite<AuditSubject, { store: string }>('audit', (ctx) => {
  const stream = (suffix = ''): string => `${ctx.namespace()}${suffix}`
  const trail = (options?: Parameters<AuditSubject['make']>[0]): ConformanceAudit => ctx.subject().make(options)
  const fill = async (a: ConformanceAudit, s: string, n: number): Promise<ConformanceRecord[]> => {
    const out: ConformanceRecord[] = []
    for (let i = 1; i <= n; i++) out.push(await a.record({ stream: s, action: `act.${i % 3}`, actor: `user:${i % 2}` }))
    return out
  }

  it('keeps a record exactly as it was hashed, and chains each record to the one before', async () => {
    const a = trail()
    const s = stream()
    const first = await a.record({
      stream: s,
      action: 'link.update',
      actor: 'user:1',
      target: 'link:7',
      outcome: 'success',
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 ünïcødé 🦫',
      requestId: 'req-1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      before: { title: 'old', tags: ['a'], n: 1.5 },
      after: { title: 'new', tags: ['a', 'b'], n: 1.5, extra: null },
      // Keys that look like the record's own (a store that fills prevHash and seq in by text must not be fooled).
      metadata: {
        nested: { list: [1, 'two', false, null] },
        emoji: '🦫',
        big: 2 ** 52,
        prevHash: 'p'.repeat(64),
        seq: 'SEQ',
      },
    })
    const second = await a.record({ stream: s, action: 'link.view', userAgent: 'nul\u0000byte' })
    expect(second.userAgent).toBe('nul\uFFFDbyte')
    // A lone surrogate cannot be stored as UTF-8 (drivers write U+FFFD): the record keeps and
    // hashes U+FFFD, so that what is stored is what was hashed.
    const third = await a.record({ stream: s, action: 'link.view', actor: 'ada\uD800x', target: '\uDC00' })
    expect([third.actor, third.target]).toEqual(['ada\uFFFDx', '\uFFFD'])
    expect(first.seq).toBe(1)
    expect(first.prevHash).toBe('0'.repeat(64))
    expect(second.seq).toBe(2)
    expect(second.prevHash).toBe(first.hash)
    expect(second.outcome).toBe('success')
    expect(first.diff).toEqual([
      { path: 'extra', after: null },
      { path: 'tags', before: ['a'], after: ['a', 'b'] },
      { path: 'title', before: 'old', after: 'new' },
    ])
    const { records } = await a.query({ stream: s, order: 'asc' })
    expect(records).toEqual([first, second, third])
    expect(await a.verify({ stream: s })).toMatchObject({ ok: true, checked: 3, head: { seq: 3, hash: third.hash } })
  })

  it('censors secrets in before/after and metadata before hashing, keeping that they changed', async () => {
    const a = trail()
    const s = stream()
    const r = await a.record({
      stream: s,
      action: 'user.password.change',
      before: { name: 'ada', passwordHash: 'old-hash' },
      after: { name: 'ada', passwordHash: 'new-hash' },
      metadata: { apiKey: 'sk_live_123', headers: { authorization: 'Bearer abc' }, note: 'ok' },
    })
    expect(r.diff).toEqual([{ path: 'passwordHash', before: '[REDACTED]', after: '[REDACTED]' }])
    expect(r.metadata).toEqual({ apiKey: '[REDACTED]', headers: { authorization: '[REDACTED]' }, note: 'ok' })
    let exported = ''
    for await (const line of a.export({ stream: s })) exported += line
    for (const secret of ['old-hash', 'new-hash', 'sk_live_123', 'Bearer abc']) expect(exported).not.toContain(secret)
    expect((await a.verify({ stream: s })).ok).toBe(true)
  })

  it('gives every concurrent append its own seq: no gap, no fork, across instances', async () => {
    const s = stream()
    const a = trail()
    const b = (await ctx.another()).make()
    const writes = Array.from({ length: 30 }, (_, i) =>
      (i % 2 === 0 ? a : b).record({ stream: s, action: 'race', metadata: { i } }),
    )
    const records = await Promise.all(writes)
    expect(records.map((r) => r.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    const result = await a.verify({ stream: s })
    expect(result).toMatchObject({ ok: true, checked: 30, head: { seq: 30 } })
  })

  it('verify() finds a record altered in the store', async () => {
    const a = trail()
    const s = stream()
    const rs = await fill(a, s, 5)
    await ctx.subject().tamper.set(s, 3, 'action', 'nothing.happened')
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'altered', seq: 3, id: rs[2]?.id })
    await ctx.subject().tamper.set(s, 3, 'action', rs[2]?.action ?? '')
    expect((await a.verify({ stream: s })).ok).toBe(true)
    await ctx.subject().tamper.set(s, 4, 'metadata', '{"injected":true}')
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'altered', seq: 4 })
  })

  it('verify() finds a record altered and re-hashed (the record after it no longer links)', async () => {
    const a = trail()
    const s = stream()
    await fill(a, s, 5)
    await ctx.subject().tamper.rewrite(s, 2, 'forged.action')
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'altered', seq: 2 })
  })

  it('verify() finds a deleted record: in the middle, first, renumbered to hide the gap, and the last', async () => {
    const a = trail()
    const s = stream()
    await fill(a, s, 6)
    await ctx.subject().tamper.remove(s, 3)
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'deleted', seq: 3 })
    await ctx.subject().tamper.closeGap(s, 2)
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'deleted', seq: 3 })

    const s2 = stream('.first')
    await fill(a, s2, 3)
    await ctx.subject().tamper.remove(s2, 1)
    expect((await a.verify({ stream: s2 })).problem).toMatchObject({ kind: 'deleted', seq: 1 })

    const s3 = stream('.last')
    await fill(a, s3, 3)
    await ctx.subject().tamper.remove(s3, 3)
    expect((await a.verify({ stream: s3 })).problem).toMatchObject({ kind: 'deleted', seq: 3 })
  })

  it('verify() finds the last record altered and re-hashed, and a stream emptied', async () => {
    const a = trail()
    const s = stream()
    await fill(a, s, 4)
    // No record after it links to it: only what the store keeps of the head can tell.
    await ctx.subject().tamper.rewrite(s, 4, 'forged.action')
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'altered', seq: 4 })

    const s2 = stream('.emptied')
    await fill(a, s2, 3)
    for (const seq of [3, 2, 1]) await ctx.subject().tamper.remove(s2, seq)
    expect((await a.verify({ stream: s2 })).problem).toMatchObject({ kind: 'deleted', seq: 1 })
  })

  it('keeps a cut-off tail visible after new records chain on, from this trail and a fresh one', async () => {
    const a = trail()
    const s = stream()
    await fill(a, s, 4)
    await ctx.subject().tamper.remove(s, 4)
    await a.record({ stream: s, action: 'after.cut' })
    await trail().record({ stream: s, action: 'after.cut' })
    const result = await a.verify({ stream: s })
    expect(result.problem).toMatchObject({ kind: 'deleted', seq: 4 })
    expect(result.head.seq).toBe(6)
  })

  it('verify() finds a swapped pair of records', async () => {
    const a = trail()
    const s = stream()
    const rs = await fill(a, s, 6)
    await ctx.subject().tamper.swap(s, 3, 4)
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'reordered', seq: 3, id: rs[3]?.id })
  })

  it('verify() finds a forged record inserted in the middle of the chain', async () => {
    const a = trail()
    const s = stream()
    await fill(a, s, 5)
    await ctx.subject().tamper.forge(s, 3)
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'inserted', seq: 3 })
  })

  it('anchors: signed heads catch a chain re-hashed to its end or cut short with its head', async () => {
    const a = trail({ anchorKey: KEY })
    const s = stream()
    const rs = await fill(a, s, 4)
    const anchor = await a.anchor({ stream: s })
    expect(anchor).toMatchObject({ seq: 4, hash: rs[3]?.hash })
    await fill(a, s, 2)
    expect(await a.verify({ stream: s })).toMatchObject({ ok: true, anchors: 1 })
    // Cut the end off and move the head: the chain looks whole, the anchor says otherwise.
    await ctx.subject().tamper.remove(s, 6)
    await ctx.subject().tamper.remove(s, 5)
    await ctx.subject().tamper.remove(s, 4)
    await ctx.subject().tamper.setHead(s, { seq: 3, hash: rs[2]?.hash ?? '' })
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'deleted', seq: 4 })

    const s2 = stream('.rewritten')
    await fill(a, s2, 3)
    await a.anchor({ stream: s2 })
    await ctx.subject().tamper.rewrite(s2, 3, 'forged')
    const forged = (await a.query({ stream: s2, limit: 1 })).records[0] as ConformanceRecord
    await ctx.subject().tamper.setHead(s2, { seq: 3, hash: forged.hash })
    expect((await a.verify({ stream: s2 })).problem).toMatchObject({ kind: 'altered', seq: 3 })
    // A broken chain is never anchored.
    await expect(a.anchor({ stream: s })).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN' })
    // Without the key, the anchors are not checked (and say so).
    expect((await trail().verify({ stream: s2 })).anchors).toBe(0)
  })

  it('queries by actor, target, action, outcome and time range, page by page without loss', async () => {
    let now = Date.UTC(2026, 0, 1)
    const a = trail({ clock: () => now, pageSize: 4 })
    const s = stream()
    for (let i = 0; i < 11; i++) {
      now += 1000
      await a.record({
        stream: s,
        action: i % 2 === 0 ? 'doc.read' : 'doc.write',
        actor: `user:${i % 3}`,
        target: `doc:${i % 4}`,
        outcome: i === 5 ? 'denied' : 'success',
      })
    }
    const all: ConformanceRecord[] = []
    let cursor: string | undefined
    do {
      const page: { records: ConformanceRecord[]; cursor?: string } = await a.query({
        stream: s,
        ...(cursor ? { cursor } : {}),
      })
      expect(page.records.length).toBeLessThanOrEqual(4)
      all.push(...page.records)
      cursor = page.cursor
    } while (cursor)
    expect(all.map((r) => r.seq)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    const asc = await a.query({ stream: s, order: 'asc', limit: 3 })
    expect(asc.records.map((r) => r.seq)).toEqual([1, 2, 3])
    expect((await a.query({ stream: s, order: 'asc', limit: 3, cursor: asc.cursor as string })).records[0]?.seq).toBe(4)
    const byActor = await a.query({ stream: s, actor: 'user:1', limit: 100 })
    expect(byActor.records.map((r) => r.seq)).toEqual([11, 8, 5, 2])
    expect((await a.query({ stream: s, target: 'doc:3', order: 'asc' })).records.map((r) => r.seq)).toEqual([4, 8])
    expect(
      (await a.query({ stream: s, action: 'doc.write', actor: 'user:0', order: 'asc' })).records.map((r) => r.seq),
    ).toEqual([4, 10])
    expect((await a.query({ stream: s, outcome: 'denied' })).records.map((r) => r.seq)).toEqual([6])
    const t0 = Date.UTC(2026, 0, 1)
    const range = await a.query({ stream: s, from: new Date(t0 + 3000), to: t0 + 6000, order: 'asc' })
    expect(range.records.map((r) => r.seq)).toEqual([3, 4, 5])
    await expect(a.query({ stream: s, limit: 100_000 })).rejects.toMatchObject({ code: 'AUDIT_EVENT_INVALID' })
    await expect(a.query({ stream: s, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'AUDIT_CURSOR_INVALID' })
    const descending = (await a.query({ stream: s, limit: 1 })).cursor as string
    await expect(a.query({ stream: s, order: 'asc', cursor: descending })).rejects.toMatchObject({
      code: 'AUDIT_CURSOR_INVALID',
    })
  })

  it('prunes old records and still verifies from the checkpoint; new records chain on', async () => {
    let now = Date.UTC(2026, 0, 1)
    const a = trail({ clock: () => now, anchorKey: KEY })
    const s = stream()
    await fill(a, s, 5)
    now += 10 * 86_400_000
    await fill(a, s, 3)
    const pruned = await a.prune({ olderThan: '5d', stream: s })
    expect(pruned.deleted).toBe(5)
    const after = await a.verify({ stream: s })
    expect(after).toMatchObject({ ok: true, checked: 3, base: { seq: 5 }, head: { seq: 8 } })
    expect(after.anchors).toBeGreaterThanOrEqual(1)
    expect((await a.query({ stream: s, limit: 100 })).records.map((r) => r.seq)).toEqual([8, 7, 6])
    expect((await a.prune({ olderThan: '5d', stream: s })).deleted).toBe(0)
    await a.record({ stream: s, action: 'later' })
    expect(await a.verify({ stream: s })).toMatchObject({ ok: true, checked: 4 })
    // Deleting the first retained record is still found.
    await ctx.subject().tamper.remove(s, 6)
    expect((await a.verify({ stream: s })).problem).toMatchObject({ kind: 'deleted', seq: 6 })
  })

  it('exports JSON lines exactly as stored and CSV that a spreadsheet cannot execute', async () => {
    const a = trail()
    const s = stream()
    await a.record({ stream: s, action: 'export.test', actor: '=HYPERLINK("http://evil")', target: 'a,"b"\nc' })
    await a.record({ stream: s, action: 'export.test', actor: '@SUM(1)', metadata: { note: 'line\nbreak' } })
    const lines: string[] = []
    for await (const line of a.export({ stream: s, order: 'asc' })) lines.push(line)
    expect(lines).toHaveLength(2)
    const first = JSON.parse(lines[0] as string) as { seq: number; actor: string; at: number; hash: string }
    expect(first).toMatchObject({ seq: 1, actor: '=HYPERLINK("http://evil")' })
    expect(typeof first.at).toBe('number')
    let csv = ''
    for await (const chunk of a.export({ stream: s, order: 'asc' }, { format: 'csv' })) csv += chunk
    const rows = csv.split('\r\n')
    expect(rows[0]).toMatch(/^id,stream,seq,at,actor,action,target,outcome/)
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"")"`)
    expect(csv).toContain('"a,""b""\nc"')
    expect(csv).toContain(`,'@SUM(1),`)
    expect(csv).toContain(',"{""note"":""line\\nbreak""}",')
    for (const cell of csv.split(/,|\r\n/)) expect(cell).not.toMatch(/^[=+@-]/)
  })
})
