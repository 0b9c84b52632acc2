import { describe, expect, it } from 'vitest'
import { createRouter } from '@beaver-kit/delivery'

const targets = [{ name: 'a' }, { name: 'b' }, { name: 'c' }]
const transient = new Error('transient')
const permanent = new Error('permanent')
const base = {
  shouldFailover: (e: unknown) => e === transient,
  exhausted: (f: ReadonlyArray<{ target: string }>) => new Error(`all failed: ${f.map((x) => x.target).join(',')}`),
}

describe('router', () => {
  it('fails over in order and reports each move', async () => {
    const moves: string[] = []
    const router = createRouter(targets, {
      ...base,
      strategy: 'failover',
      onFailover: (e) => moves.push(`${e.from}->${e.to}`),
    })
    const { value, target } = await router.run(async (t) => {
      if (t.name !== 'c') throw transient
      return 42
    })
    expect([value, target.name]).toEqual([42, 'c'])
    expect(moves).toEqual(['a->b', 'b->c'])
  })

  it('throws a permanent failure as it is, counting the target healthy', async () => {
    const router = createRouter(targets, { ...base, strategy: 'failover', failureThreshold: 1 })
    await expect(router.run(async () => Promise.reject(permanent))).rejects.toBe(permanent)
    expect(router.state()[0]).toMatchObject({ name: 'a', state: 'closed', consecutiveFailures: 0 })
  })

  it('opens a breaker after the threshold, tries that target last, and closes it on success after the cooldown', async () => {
    let now = 1000
    const changes: string[] = []
    const router = createRouter(targets, {
      ...base,
      strategy: 'failover',
      failureThreshold: 2,
      cooldownMs: 500,
      now: () => now,
      onBreakerChange: (e) => changes.push(`${e.target}:${e.state}`),
    })
    const calls: string[] = []
    let aDown = true
    const send = (t: { name: string }) => {
      calls.push(t.name)
      if (t.name === 'a' && aDown) return Promise.reject(transient)
      return Promise.resolve(t.name)
    }
    await router.run(send)
    await router.run(send)
    expect(router.state()[0]).toMatchObject({ state: 'open', consecutiveFailures: 2, openUntil: 1500 })
    calls.length = 0
    expect((await router.run(send)).target.name).toBe('b')
    expect(calls).toEqual(['b'])
    now = 1600
    expect(router.state()[0]?.state).toBe('half-open')
    aDown = false
    expect((await router.run(send)).target.name).toBe('a')
    expect(changes).toEqual(['a:open', 'a:closed'])
  })

  it('still tries open targets when every healthy one failed, then reports all', async () => {
    const router = createRouter(targets, { ...base, strategy: 'failover', failureThreshold: 1, cooldownMs: 60_000 })
    await expect(router.run(async () => Promise.reject(transient))).rejects.toThrow('all failed: a,b,c')
    // All open now: the next call still tries all three rather than refusing.
    await expect(router.run(async () => Promise.reject(transient))).rejects.toThrow('all failed: a,b,c')
  })

  it('rotates the first choice with round-robin', async () => {
    const router = createRouter(targets, { ...base, strategy: 'round-robin' })
    const firsts = []
    for (let i = 0; i < 4; i++) firsts.push((await router.run(async (t) => t.name)).value)
    expect(firsts).toEqual(['a', 'b', 'c', 'a'])
  })

  it('stops at an aborted signal and needs a target', async () => {
    const router = createRouter(targets, { ...base, strategy: 'failover' })
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(router.run(async () => 1, { signal: controller.signal })).rejects.toThrow('stop')
    expect(() => createRouter([], { ...base, strategy: 'failover' })).toThrow(/at least one/)
  })
})
