import { describe, expect, it } from 'vitest'
import { createAudit } from '@beaver-kit/audit'
import { auditSink, createAuth, type AuthEvent } from '@beaver-kit/auth'
import { cheapKrypto } from './suite.ts'

const PW = 'correct horse battery staple'

describe('the audit sink', () => {
  it('writes every flow to a verifiable @beaver-kit/audit chain, failures and denials included, with no secret', async () => {
    await using trail = createAudit({ envPrefix: false, store: 'memory' })
    const krypto = cheapKrypto()
    await using a = createAuth({
      envPrefix: false,
      krypto,
      limiter: false,
      onEvent: auditSink(trail, { stream: 'auth' }),
      roles: { admin: { permissions: ['*'] } },
    })
    const user = await a.register({ email: 'ann@example.com', password: PW }, { ip: '192.0.2.1', userAgent: 'ua' })
    const pair = await a.login({ email: 'ann@example.com', password: PW })
    await a.login({ email: 'ghost@example.com', password: PW }).catch(() => undefined)
    await a.refresh(pair.refreshToken)
    await a.refresh(pair.refreshToken).catch(() => undefined)
    const denied = a.requireRole('admin')
    const res = { statusCode: 0, setHeader: () => undefined, end: () => undefined }
    const next = await a.login({ email: 'ann@example.com', password: PW })
    await denied({ headers: { authorization: `Bearer ${next.accessToken}` } }, res)
    await krypto.close()

    const { records } = await trail.query({ stream: 'auth', limit: 100 })
    const rows = records.map((r) => [r.action, r.outcome, r.actor, (r.metadata as { reason?: string } | null)?.reason])
    expect(rows).toEqual(
      expect.arrayContaining([
        ['auth.register', 'success', `user:${user.id}`, undefined],
        ['auth.login', 'failure', null, 'unknown-user'],
        ['auth.refresh', 'failure', `user:${user.id}`, 'reused'],
        ['auth.accessDenied', 'denied', `user:${user.id}`, 'one of the roles admin'],
      ]),
    )
    expect(records.find((r) => r.action === 'auth.register')).toMatchObject({ ip: '192.0.2.1', userAgent: 'ua' })
    expect(records.find((r) => r.metadata?.reason === 'unknown-user')?.metadata).toEqual({
      reason: 'unknown-user',
      email: 'ghost@example.com',
    })
    const text = JSON.stringify(records)
    for (const secret of [PW, pair.refreshToken, pair.accessToken]) expect(text).not.toContain(secret)
    expect((await trail.verify({ stream: 'auth' })).ok).toBe(true)
  })

  it('keeps the default stream when none is named', async () => {
    const recorded: unknown[] = []
    const sink = auditSink({ record: async (e) => void recorded.push(e) })
    const event: AuthEvent = { type: 'auth.logout', outcome: 'success', at: 1 }
    await sink(event)
    expect(recorded).toEqual([
      {
        action: 'auth.logout',
        actor: null,
        target: null,
        outcome: 'success',
        ip: null,
        userAgent: null,
        metadata: null,
        at: 1,
      },
    ])
  })
})
