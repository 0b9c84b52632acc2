import { hash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { withLogContext } from '@beaver-kit/logger'
import {
  canonicalJson,
  createAudit,
  GENESIS_HASH,
  isAuditError,
  recordHash,
  type StoredRecord,
} from '@beaver-kit/audit'

const memoryTrail = (options: Parameters<typeof createAudit>[0] = {}) =>
  createAudit({ envPrefix: false, store: 'memory', ...options })

async function errorOf(fn: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await fn()
  } catch (error) {
    return error as { code?: string; message: string }
  }
  throw new Error('expected a rejection')
}

describe('canonical JSON', () => {
  it('sorts keys, drops undefined members, writes numbers as JSON does, and refuses what JSON has not', () => {
    expect(canonicalJson({ b: 1, a: [true, null, undefined, 'x'], c: undefined, é: -0, z: 1e21 })).toBe(
      '{"a":[true,null,null,"x"],"b":1,"z":1e+21,"é":0}',
    )
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(expect.objectContaining({ code: 'AUDIT_EVENT_INVALID' }))
    expect(() => canonicalJson({ n: 10n })).toThrow(expect.objectContaining({ code: 'AUDIT_EVENT_INVALID' }))
  })
})

describe('record()', () => {
  it('checks the event: action, stream, outcome, field types, time', async () => {
    await using a = memoryTrail()
    const bad: Array<Record<string, unknown>> = [
      { action: '' },
      { action: 'x'.repeat(129) },
      { action: 'a', stream: 'has space' },
      { action: 'a', outcome: 'maybe' },
      { action: 'a', actor: 42 },
      { action: 'a', metadata: ['list'] },
      { action: 'a', before: 'text' },
      { action: 'a', at: -5 },
      { action: 'a', metadata: { n: 10n } },
    ]
    for (const event of bad) {
      const error = await errorOf(() => a.record(event as never))
      expect(isAuditError(error, 'AUDIT_EVENT_INVALID'), JSON.stringify(Object.keys(event))).toBe(true)
    }
    expect(isAuditError(await errorOf(() => a.record(null as never)), 'AUDIT_EVENT_INVALID')).toBe(true)
  })

  it('cuts attacker-sized text fields to their column instead of refusing the record', async () => {
    await using a = memoryTrail()
    const r = await a.record({
      action: 'login',
      userAgent: `${'x'.repeat(511)}🦫tail`,
      actor: 'a'.repeat(1000),
      ip: '1'.repeat(100),
    })
    expect(r.userAgent).toBe('x'.repeat(511)) // the cut never leaves half a surrogate pair
    expect(r.actor).toHaveLength(255)
    expect(r.ip).toHaveLength(64)
  })

  it('refuses diff + metadata larger than BEAVER_AUDIT_MAX_EVENT_SIZE', async () => {
    await using a = memoryTrail({ maxEventSize: 1024 })
    const error = await errorOf(() => a.record({ action: 'big', metadata: { blob: 'x'.repeat(2000) } }))
    expect(error).toMatchObject({ code: 'AUDIT_EVENT_TOO_LARGE', message: expect.stringContaining('MAX_EVENT_SIZE') })
  })

  it('takes requestId from the log context and a time given as a Date', async () => {
    await using a = memoryTrail()
    const at = new Date('2026-01-02T03:04:05.678Z')
    const r = await withLogContext({ requestId: 'req-42' }, () => a.record({ action: 'x', at }))
    expect(r).toMatchObject({ requestId: 'req-42', traceId: null, at })
    expect((await a.record({ action: 'y', requestId: null })).requestId).toBeNull()
  })

  it('censors configured paths and key names, and walks nested diff values', async () => {
    await using a = memoryTrail({ redactKeys: ['default', 'ssn'], redact: ['card.number'], censor: '***' })
    const r = await a.record({
      action: 'profile.update',
      before: { profile: { ssn: '111', city: 'Paris' }, tokens: null },
      after: { profile: { ssn: '222', city: 'Lyon' }, tokens: { refreshToken: 'r1' } },
      metadata: { card: { number: '4111', brand: 'visa' } },
    })
    expect(r.diff).toEqual([
      { path: 'profile.city', before: 'Paris', after: 'Lyon' },
      { path: 'profile.ssn', before: '***', after: '***' },
      { path: 'tokens', before: null, after: { refreshToken: '***' } },
    ])
    expect(r.metadata).toEqual({ card: { number: '***', brand: 'visa' } })
    const same = await a.record({ action: 'noop', before: { a: 1 }, after: { a: 1 } })
    expect(same.diff).toEqual([])
  })

  it('hashes the canonical JSON of every field and the format version (hashes pinned: a change breaks stored chains)', () => {
    const record = {
      id: '0190c2a4-1d2e-7000-8000-000000000001',
      stream: 'golden',
      seq: 7,
      at: 1767225600123,
      actor: 'user:1',
      action: 'document.update',
      target: 'document:\u00e9\ud83e\uddab',
      outcome: 'success' as const,
      ip: '203.0.113.9',
      userAgent: 'UA "quoted" \\ back',
      requestId: 'req-1',
      traceId: null,
      diff: [{ path: 'title', before: 'a', after: 'b' }],
      metadata: { z: 1, a: [true, null, 2.5], é: { y: 'x' } },
      prevHash: 'a'.repeat(64),
    }
    const text = (r: Omit<StoredRecord, 'hash'>): string => canonicalJson({ v: 1, ...r })
    expect(recordHash(record)).toBe(hash('sha256', text(record), 'hex'))
    expect(recordHash(record)).toBe('ad034462c132902ac51ffe0d48edec70a8a076d7824fac95da1f6d09c16a4268')
    const sparse = {
      ...record,
      actor: null,
      target: null,
      diff: null,
      metadata: null,
      ip: null,
      userAgent: null,
      requestId: null,
    }
    expect(recordHash(sparse)).toBe(hash('sha256', text(sparse), 'hex'))
    expect(recordHash(sparse)).toBe('b9f75652d735231ccfe68b8c8addfdc05532f3c66b92d2a8ce4e9ebe4149e666')
  })

  it('writes JSON lines a third party can check: each hash recomputes and links', async () => {
    await using a = memoryTrail()
    for (let i = 0; i < 3; i++) await a.record({ action: 'e', metadata: { i, when: new Date(0) } })
    let prev = GENESIS_HASH
    for await (const line of a.export()) {
      const r = JSON.parse(line) as StoredRecord
      expect(r.prevHash).toBe(prev)
      const { hash, ...rest } = r
      expect(recordHash(rest)).toBe(hash)
      prev = hash
    }
  })

  it('refuses unknown export formats and an olderThan that is no duration', async () => {
    await using a = memoryTrail()
    expect(() => a.export({}, { format: 'xml' as never })).toThrow(
      expect.objectContaining({ code: 'AUDIT_EVENT_INVALID' }),
    )
    await expect(a.prune({ olderThan: 'soon' })).rejects.toMatchObject({ name: 'ConfigError' })
    await expect(a.verify({ stream: 'bad stream' })).rejects.toMatchObject({ code: 'AUDIT_EVENT_INVALID' })
  })
})

describe('the log sink', () => {
  it('writes each record as one line after storing it, and log-only keeps a chain in the process', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message?: string }> = []
    const logger = {
      info: (fields: object, message?: string) =>
        lines.push({ fields: fields as Record<string, unknown>, ...(message ? { message } : {}) }),
    }
    await using both = memoryTrail({ log: true, logger })
    const r = await both.record({ action: 'a', metadata: { password: 'p' } })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ message: 'audit', fields: { audit: { hash: r.hash, at: r.at.toISOString() } } })
    expect(JSON.stringify(lines[0])).not.toContain('"p"')

    await using logOnly = createAudit({ envPrefix: false, store: 'none', log: true, logger })
    const first = await logOnly.record({ action: 'b' })
    const second = await logOnly.record({ action: 'c' })
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash })
    expect(lines).toHaveLength(3)
    await expect(logOnly.query()).rejects.toMatchObject({ code: 'AUDIT_NOT_SUPPORTED' })
    await expect(logOnly.verify()).rejects.toMatchObject({ code: 'AUDIT_NOT_SUPPORTED' })
    expect(await logOnly.streams()).toEqual(['default'])
    expect((await logOnly.prune({ olderThan: 0 })).deleted).toBe(0)
  })
})
