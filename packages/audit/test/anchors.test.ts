import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { exportKey, generateKeyPair } from '@beaver-kit/krypto'
import { eventually } from '@beaver-kit/testkit'
import { createAudit, MemoryStore, type AuditStore } from '@beaver-kit/audit'

const SECRET = 'anchor-secret-of-at-least-32-bytes-long'

describe('anchors', () => {
  it('sign with an Ed25519 private key; an auditor holding only the public key checks them', async () => {
    const { privateKey, publicKey } = generateKeyPair('EdDSA')
    const store = new MemoryStore()
    await using writer = createAudit({
      envPrefix: false,
      storeInstance: store,
      anchor: { algorithm: 'EdDSA' },
      anchorKey: exportKey(privateKey, 'pem'),
    })
    await using auditor = createAudit({
      envPrefix: false,
      storeInstance: store,
      anchor: { algorithm: 'EdDSA' },
      anchorKey: exportKey(publicKey, 'pem'),
    })
    expect(await writer.anchor()).toBeUndefined() // nothing to vouch for yet
    await writer.record({ action: 'a' })
    const first = await writer.anchor()
    expect(first).toMatchObject({ seq: 1, alg: 'EdDSA' })
    expect(await writer.anchor()).toEqual(first) // no new record: the same anchor
    await writer.record({ action: 'b' })
    await writer.anchor()
    expect(await auditor.verify()).toMatchObject({ ok: true, anchors: 2 })
    await expect(auditor.anchor()).rejects.toMatchObject({ code: 'AUDIT_NOT_SUPPORTED' })
  })

  it('an anchor signed with another key is reported, and a key that does not fit its algorithm is refused', async () => {
    const store = new MemoryStore()
    await using a = createAudit({ envPrefix: false, storeInstance: store, anchorKey: SECRET })
    await using other = createAudit({ envPrefix: false, storeInstance: store, anchorKey: `${SECRET}-other` })
    await a.record({ action: 'a' })
    await a.anchor()
    expect((await other.verify()).problem).toMatchObject({ kind: 'anchor', seq: 1 })
    await using wrong = createAudit({
      envPrefix: false,
      store: 'memory',
      anchor: { algorithm: 'EdDSA' },
      anchorKey: SECRET,
    })
    await wrong.record({ action: 'a' })
    await expect(wrong.anchor()).rejects.toMatchObject({
      code: 'AUDIT_OPTIONS_INVALID',
      message: expect.stringContaining('ANCHOR_ALGORITHM'),
    })
    await using bad = createAudit({ envPrefix: false, store: 'memory', anchorKey: 42 })
    await bad.record({ action: 'a' })
    await expect(bad.anchor()).rejects.toMatchObject({ code: 'AUDIT_OPTIONS_INVALID' })
    await using none = createAudit({ envPrefix: false, store: 'memory' })
    await expect(none.anchor()).rejects.toMatchObject({
      code: 'AUDIT_NOT_SUPPORTED',
      message: expect.stringContaining('AUDIT_ANCHOR_KEY'),
    })
  })

  it('BEAVER_AUDIT_ANCHOR_INTERVAL anchors every stream with new records in the background', async () => {
    const anchored: unknown[] = []
    const onAnchor = (m: unknown): void => void anchored.push(m)
    subscribe('beaver:audit:anchor', onAnchor)
    try {
      await using a = createAudit({
        envPrefix: false,
        store: 'memory',
        anchor: { key: SECRET, interval: '20ms' },
      })
      await a.record({ stream: 'one', action: 'a' })
      await a.record({ stream: 'two', action: 'b' })
      await eventually(async () => {
        expect((await a.verify({ stream: 'one' })).anchors).toBe(1)
        expect((await a.verify({ stream: 'two' })).anchors).toBe(1)
      })
      expect(anchored).toEqual(expect.arrayContaining([{ stream: 'one', seq: 1 }]))
    } finally {
      unsubscribe('beaver:audit:anchor', onAnchor)
    }
  })

  it('BEAVER_AUDIT_RETENTION prunes in the background; a failing job is published, not thrown', async () => {
    let now = Date.UTC(2026, 0, 1)
    const pruned: unknown[] = []
    const failed: Array<{ job: string }> = []
    const onPrune = (m: unknown): void => void pruned.push(m)
    const onError = (m: unknown): void => void failed.push(m as { job: string })
    subscribe('beaver:audit:prune', onPrune)
    subscribe('beaver:audit:jobError', onError)
    try {
      await using a = createAudit({ envPrefix: false, store: 'memory', retention: '30ms', clock: () => now })
      await a.record({ action: 'old' })
      await a.record({ action: 'old' })
      now += 60_000
      await a.record({ action: 'new' })
      await eventually(async () => {
        expect(await a.verify()).toMatchObject({ ok: true, checked: 1, base: { seq: 2 } })
      })
      expect(pruned).toEqual([{ stream: 'default', deleted: 2, baseSeq: 2 }])

      const broken = new MemoryStore() as AuditStore
      broken.streams = () => Promise.reject(new Error('store away'))
      await using b = createAudit({ envPrefix: false, storeInstance: broken, retention: '20ms' })
      await eventually(() => expect(failed.some((f) => f.job === 'retention')).toBe(true))
      expect(b.store).toBe('memory')
    } finally {
      unsubscribe('beaver:audit:prune', onPrune)
      unsubscribe('beaver:audit:jobError', onError)
    }
  })

  it('publishes record and verify on their tracing channels when someone listens', async () => {
    const seen: string[] = []
    const onStart = (m: unknown): void => void seen.push((m as { action?: string; stream: string }).action ?? 'verify')
    subscribe('tracing:beaver:audit:record:start', onStart)
    subscribe('tracing:beaver:audit:verify:start', onStart)
    try {
      await using a = createAudit({ envPrefix: false, store: 'memory' })
      await a.record({ action: 'traced' })
      await a.verify()
      expect(seen).toEqual(['traced', 'verify'])
    } finally {
      unsubscribe('tracing:beaver:audit:record:start', onStart)
      unsubscribe('tracing:beaver:audit:verify:start', onStart)
    }
  })
})
