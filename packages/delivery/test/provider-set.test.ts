import { describe, expect, it } from 'vitest'
import {
  buildProviderSetMembers,
  createCompositeSender,
  createProviderSet,
  type ProviderSetPolicy,
} from '@beaver-kit/delivery'

class Down extends Error {
  code = 'DOWN'
}

interface Receipt {
  id: string
  via?: string
}

function member(name: string, behaviour: () => Promise<Receipt>, idempotencyKeys = false) {
  const calls: string[] = []
  let closed = 0
  return {
    name,
    capabilities: { idempotencyKeys },
    calls,
    closed: () => closed,
    async send(message: string, _options: { signal?: AbortSignal | undefined }): Promise<Receipt> {
      calls.push(message)
      return behaviour()
    },
    async verify() {
      await behaviour()
    },
    async close() {
      closed++
    },
  }
}

function policy(events: string[]): ProviderSetPolicy {
  return {
    shouldFailover: (e) => e instanceof Down,
    empty: () => new Error('no members'),
    exhausted: (summary, failures) => new Error(`all failed (${failures.length}): ${summary}`),
    onFailover: ({ from, to, code }) => events.push(`${from}->${to} ${code}`),
    onBreakerChange: ({ target, state }) => events.push(`${target} ${state}`),
  }
}

describe('provider sets', () => {
  it('send through the first member that takes the message, label the receipt and report each move', async () => {
    const events: string[] = []
    const a = member('a', () => Promise.reject(new Down('a is down')))
    const b = member('b', async () => ({ id: 'b-1' }), true)
    const set = createCompositeSender(
      [a, b],
      { failures: 1 },
      {
        ...policy(events),
        label: (receipt, m) => ({ ...receipt, via: receipt.via ?? m.name }),
      },
    )
    expect(set.name).toBe('failover')
    expect(set.capabilities).toEqual({ retries: true, idempotencyKeys: false })
    expect(await set.send('hello', {})).toEqual({ id: 'b-1', via: 'b' })
    expect([a.calls, b.calls]).toEqual([['hello'], ['hello']])
    expect(events).toEqual(['a open', 'a->b DOWN'])
    expect(set.state().map((s) => [s.name, s.state])).toEqual([
      ['a', 'open'],
      ['b', 'closed'],
    ])
    // An open member is tried last: b takes the next message at once.
    expect(await set.send('again', {})).toEqual({ id: 'b-1', via: 'b' })
    expect(a.calls).toEqual(['hello'])
    await set.verify({})
    await set.close()
    expect([a.closed(), b.closed()]).toEqual([1, 1])
  })

  it('name every failure when all members fail, and throw a message error at once', async () => {
    const events: string[] = []
    const set = createProviderSet(
      [member('a', () => Promise.reject(new Down('a down'))), member('b', () => Promise.reject('b gone'))],
      { strategy: 'round-robin' },
      { ...policy(events), shouldFailover: () => true },
    )
    await expect(set.run((m) => m.send('x', {}))).rejects.toThrow('all failed (2): a: a down; b: b gone')
    expect(events).toContain('a->b DOWN')

    const rejecting = createProviderSet([member('a', () => Promise.reject(new Error('bad recipient')))], {}, policy([]))
    await expect(rejecting.run((m) => m.send('x', {}))).rejects.toThrow('bad recipient')
    await expect(rejecting.verify({})).rejects.toThrow('bad recipient')
  })

  it('refuse an empty set, and close what was built when a member fails to build', async () => {
    expect(() => createProviderSet([], {}, policy([]))).toThrow('no members')
    const empty = () => new Error('BEAVER_X_FAILOVER is empty')
    await expect(
      buildProviderSetMembers(undefined, async () => member('a', async () => ({ id: '' })), empty),
    ).rejects.toThrow('is empty')
    const built = member('a', async () => ({ id: '' }))
    await expect(
      buildProviderSetMembers(
        ['a', 'b'],
        async (name) => {
          if (name === 'b') throw new Error('b has no key')
          return built
        },
        empty,
      ),
    ).rejects.toThrow('b has no key')
    expect(built.closed()).toBe(1)
    const members = await buildProviderSetMembers(['a'], async () => built, empty)
    expect(members).toEqual([built])
  })
})
