import { describe, expect, it } from 'vitest'
import { BeaverError, defineDriverRegistry, isBeaverError } from '@beaver-kit/core'

interface Def {
  name: string
  peers?: readonly string[]
  make(): string
}
const memory: Def = { name: 'memory', make: () => 'memory' }
let redisLoads = 0
const registry = () =>
  defineDriverRegistry<Def>({
    kind: 'widget',
    setting: 'BEAVER_WIDGET_DRIVER',
    registerName: 'registerWidgetDriver',
    builtins: {
      memory,
      redis: () => {
        redisLoads++
        return Promise.resolve({ name: 'redis', peers: ['ioredis'], make: () => 'redis' })
      },
    },
    error: (code, message, details) => new BeaverError(`WIDGET_${code}`, message, { details }),
  })

describe('defineDriverRegistry', () => {
  it('loads built-ins by name, lazily, and peeks only what needs no import', async () => {
    const r = registry()
    const before = redisLoads
    expect(r.names()).toEqual(['memory', 'redis'])
    expect(r.peek('memory')).toBe(memory)
    expect(r.peek('redis')).toBeUndefined()
    expect(redisLoads).toBe(before)
    expect((await r.load('redis')).make()).toBe('redis')
    expect(redisLoads).toBe(before + 1)
    expect(r.has('redis')).toBe(true)
    expect(r.has('nope')).toBe(false)
  })

  it('registers a definition or a loader under a name, beating a built-in of that name', async () => {
    const r = registry()
    r.register('custom', { name: 'custom', make: () => 'custom' })
    r.register('memory', () => Promise.resolve({ name: 'memory', make: () => 'replaced' }))
    expect((await r.load('custom')).make()).toBe('custom')
    expect((await r.load('memory')).make()).toBe('replaced')
    expect(r.peek('memory')).toBeUndefined()
    expect(r.names()).toEqual(['memory', 'redis', 'custom'])
  })

  it('an unknown name is the package error naming the setting, the known names and the closest one', async () => {
    const r = registry()
    const err = await r.load('reddis').catch((e: unknown) => e)
    expect(isBeaverError(err, 'WIDGET_DRIVER_UNKNOWN')).toBe(true)
    expect((err as Error).message).toBe(
      'BEAVER_WIDGET_DRIVER is "reddis"; expected one of memory, redis (did you mean "redis"?), or register a widget driver with registerWidgetDriver("reddis", definition).',
    )
    expect((err as BeaverError).details).toEqual({
      driver: 'reddis',
      known: ['memory', 'redis'],
      setting: 'BEAVER_WIDGET_DRIVER',
    })
    const other = await r.load('zzz', 'BEAVER_WIDGET_TIERED_L2').catch((e: unknown) => e)
    expect((other as Error).message).toMatch(/^BEAVER_WIDGET_TIERED_L2 is "zzz"; expected one of memory, redis, or/)
  })

  it('refuses names that are not lowercase words', () => {
    const r = registry()
    for (const bad of ['Redis', '1st', 'a b', '', 'x_y', '__proto__']) {
      expect(() => r.register(bad, memory)).toThrow(expect.objectContaining({ code: 'WIDGET_DRIVER_NAME_INVALID' }))
    }
    expect(r.has('constructor')).toBe(false)
    expect(r.has('toString')).toBe(false)
  })
})
