import { describe, expect, it } from 'vitest'
import {
  defaultInstances,
  defineDefaultInstance,
  isCoreError,
  shutdown,
  watchDefaultInstances,
  type InstanceChange,
} from '@beaver-kit/core'

class Thing {
  closed = 0
  readonly options: { name?: string }
  constructor(options: { name?: string } = {}) {
    this.options = options
  }
  async close(): Promise<void> {
    this.closed++
  }
}

describe('defineDefaultInstance', () => {
  it('builds the default lazily, once, even under concurrent first access', async () => {
    let built = 0
    const def = defineDefaultInstance<Thing, { name?: string }>('thing', (o) => {
      built++
      return new Thing(o)
    })
    expect(def.peek()).toBeUndefined()
    const all = await Promise.all(Array.from({ length: 50 }, async () => def.get()))
    expect(built).toBe(1)
    expect(new Set(all).size).toBe(1)
    await def.reset()
  })

  it('rethrows the configuration error until it is fixed, and never stores a half-made instance', async () => {
    let broken = true
    const def = defineDefaultInstance('flaky', () => {
      if (broken) throw new Error('BEAVER_FLAKY_URL is required')
      return new Thing()
    })
    expect(() => def.get()).toThrow('BEAVER_FLAKY_URL is required')
    expect(() => def.get()).toThrow('BEAVER_FLAKY_URL is required')
    expect(def.peek()).toBeUndefined()
    broken = false
    expect(def.get()).toBeInstanceOf(Thing)
    await def.reset()
  })

  it('init configures the default before first use and throws afterwards', async () => {
    const def = defineDefaultInstance<Thing, { name?: string }>('init-thing', (o) => new Thing(o))
    expect(def.init({ name: 'explicit' }).options.name).toBe('explicit')
    expect(def.get().options.name).toBe('explicit')
    let err: unknown
    try {
      def.init({ name: 'late' })
    } catch (e) {
      err = e
    }
    expect(isCoreError(err, 'CORE_ALREADY_INITIALIZED')).toBe(true)
    expect((err as Error).message).toContain('init-thing')
    await def.reset()
  })

  it('reset closes before it forgets, and the next get builds anew', async () => {
    const def = defineDefaultInstance('reset-thing', () => new Thing())
    const first = def.get()
    await def.reset()
    expect(first.closed).toBe(1)
    expect(def.peek()).toBeUndefined()
    const second = def.get()
    expect(second).not.toBe(first)
    await def.reset()
    await def.reset()
    expect(second.closed).toBe(1)
  })

  it('registers the default with shutdown(), which closes it and forgets it', async () => {
    const def = defineDefaultInstance('shut-thing', () => new Thing())
    const t = def.get()
    await shutdown()
    expect(t.closed).toBe(1)
    expect(def.peek()).toBeUndefined()
    await def.reset()
    expect(t.closed).toBe(1)
  })
})

describe('withPrefix', () => {
  it('builds a new instance from another env prefix, options beating that environment', () => {
    const made: unknown[] = []
    const def = defineDefaultInstance<{ close(): Promise<void> }, { envPrefix?: string | false; size?: number }>(
      'prefixed',
      (options) => {
        made.push(options)
        return { close: () => Promise.resolve() }
      },
    )
    const a = def.withPrefix('USER_', { size: 3 })
    expect(made).toEqual([{ size: 3, envPrefix: 'USER_' }])
    expect(def.peek()).toBeUndefined()
    expect(def.withPrefix('X_')).not.toBe(a)
    expect(made[1]).toEqual({ envPrefix: 'X_' })
  })

  it('lists live default instances and tells watchers about each one created and closed', async () => {
    const a = defineDefaultInstance('live-a', () => new Thing())
    const b = defineDefaultInstance('live-b', () => new Thing())
    const first = a.get()
    const changes: InstanceChange[] = []
    const unwatch = watchDefaultInstances((c) => changes.push(c))
    expect(changes).toEqual([{ name: 'live-a', instance: first, state: 'created' }])
    const second = b.get()
    expect(defaultInstances().filter((e) => e.name.startsWith('live-'))).toEqual([
      { name: 'live-a', instance: first },
      { name: 'live-b', instance: second },
    ])
    await a.reset()
    expect(changes.at(-1)).toEqual({ name: 'live-a', instance: first, state: 'closed' })
    await shutdown()
    expect(changes.at(-1)).toEqual({ name: 'live-b', instance: second, state: 'closed' })
    expect(defaultInstances().some((e) => e.name.startsWith('live-'))).toBe(false)
    unwatch()
    a.get()
    expect(changes.filter((c) => c.state === 'created')).toHaveLength(2)
    await a.reset()
    await a.reset()
    expect(changes).toHaveLength(4)
  })
})
