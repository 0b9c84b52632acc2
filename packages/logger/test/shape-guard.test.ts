import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.ts'
import { keyMatcher } from '../src/redact.ts'
import { createShapeCache } from '../src/shape-guard.ts'
import { capture } from './helpers/capture.ts'

const line = () => ({
  user: { id: 42, name: 'ada', roles: ['admin', 'viewer'] },
  items: [
    { id: 1, tags: ['a'] },
    { id: 2, tags: [] },
  ],
  note: 'x',
})

// Enough clean lines for any sampling policy to have compiled a guard for their shape.
function warm(learn: (fields: Record<string, unknown>) => void, make: () => Record<string, unknown>): void {
  for (let i = 0; i < 64; i++) learn(make())
}

describe('remembered clean shapes', () => {
  it('proves a line built like a clean one, and nothing that differs in a way that matters', () => {
    const cache = createShapeCache(keyMatcher(['default']))
    expect(cache.proves(line())).toBe(false)
    warm(cache.learn, line)
    expect(cache.proves(line())).toBe(true)
    // Primitives may change, and an object where the shape had one may become a primitive.
    expect(cache.proves({ ...line(), note: 7, user: null })).toBe(true)

    const variants: Record<string, Record<string, unknown>> = {
      'an extra key after the same first keys': { ...line(), password: 'p' },
      'an extra key deep inside': { ...line(), user: { ...line().user, apiToken: 't' } },
      'a key renamed': { user: line().user, items: line().items, token: 'x' },
      'a key fewer': { user: line().user, items: line().items },
      'a primitive become an object': { ...line(), note: { secret: 's' } },
      'an array element of another shape': {
        ...line(),
        items: [
          { id: 1, tags: [] },
          { id: 2, secret: 's' },
        ],
      },
      'an object in an array of primitives': { ...line(), user: { ...line().user, roles: [{ password: 'p' }] } },
      'a class instance with the same keys': {
        ...line(),
        user: Object.assign(Object.create({ toJSON: () => ({ password: 'p' }) }) as object, line().user),
      },
      'a null-prototype object': { ...line(), user: Object.assign(Object.create(null) as object, line().user) },
      'a function where a primitive was': {
        ...line(),
        note: Object.assign(() => 1, { toJSON: () => ({ token: 't' }) }),
      },
      'a function in an array': { ...line(), items: [{ id: 1, tags: [() => 1] }] },
      'an array with the same keys where an object was': {
        ...line(),
        user: Object.assign([], line().user),
      },
      'a URL string where an object was, at the top level': { ...line(), user: 'postgres://app:p@db' },
      'a URL string where a string was, at the top level': { ...line(), note: 'postgres://app:p@db' },
    }
    for (const [name, value] of Object.entries(variants)) expect(cache.proves(value), name).toBe(false)
  })

  it('sees a key added to the very object it learned from', () => {
    const cache = createShapeCache(keyMatcher(['default']))
    const fields: Record<string, unknown> = line()
    warm(cache.learn, () => fields)
    expect(cache.proves(fields)).toBe(true)
    ;(fields.user as Record<string, unknown>).password = 'added-later'
    expect(cache.proves(fields)).toBe(false)
  })

  it('never remembers a shape with a secret-named key, a toJSON method or past its bounds', () => {
    const cache = createShapeCache(keyMatcher(['default']))
    const kept = () => ({ settings: [{ name: 'DB_URL', secret: true }] })
    const withToJson = () => ({ a: { toJSON: () => ({ password: 'p' }) } })
    let deep: Record<string, unknown> = { id: 1 }
    for (let i = 0; i < 20; i++) deep = { level: deep }
    const tooDeep = deep
    for (const make of [kept, withToJson, () => tooDeep]) {
      warm(cache.learn, make)
      expect(cache.proves(make())).toBe(false)
    }
  })

  it('keeps censoring through a logger once the shape is remembered', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    for (let i = 0; i < 64; i++) log.info(line(), 'warm')
    log.info({ ...line(), password: 'extra-secret' }, 'x')
    log.info({ ...line(), user: { ...line().user, apiToken: 'deep-secret' } }, 'x')
    log.info({ ...line(), items: [{ id: 1, tags: [{ cookie: 'tag-secret' }] }] }, 'x')
    log.info({ ...line(), note: 'postgres://app:url-secret@db' }, 'x')
    log.info({ ...line(), user: 'postgres://app:slot-secret@db' }, 'x')
    const text = sink.lines.slice(64).join('')
    expect(text).not.toMatch(/extra-secret|deep-secret|tag-secret|url-secret|slot-secret/)
    expect(sink.records()[64]).toMatchObject({ password: '[REDACTED]' })
    expect(sink.records()[67]).toMatchObject({ note: 'postgres://****@db' })
    expect(sink.records()[68]).toMatchObject({ user: 'postgres://****@db' })
  })
})

describe('a shape asked for at the first nested value', () => {
  it('still censors and masks flat fields before and after it once the shape is remembered', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    const fields = () => ({ id: 1, name: 'ada', meta: { a: 1, b: 2, c: 3, d: 4, e: 5 }, tail: 'x' })
    for (let i = 0; i < 64; i++) log.info(fields(), 'warm')
    log.info({ ...fields(), name: 'postgres://app:before-secret@db' }, 'x')
    log.info({ password: 'first-secret', ...fields() }, 'x')
    log.info({ ...fields(), tail: 'redis://u:after-secret@r' }, 'x')
    log.info({ ...fields(), apiToken: 'after-key-secret' }, 'x')
    log.info({ ...fields(), meta: { ...fields().meta, e: 'ws://u:nested-secret@s' } }, 'x')
    const text = sink.lines.slice(64).join('')
    expect(text).not.toMatch(/before-secret|first-secret|after-secret|after-key-secret|nested-secret/)
    expect(sink.records().slice(64)).toMatchObject([
      { name: 'postgres://****@db' },
      { password: '[REDACTED]' },
      { tail: 'redis://****@r' },
      { apiToken: '[REDACTED]' },
      { meta: { e: 'ws://****@s' } },
    ])
  })
})

describe('what the walk always did, kept', () => {
  it('censors what a toJSON method of a plain object returns', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    log.info({ conn: { host: 'db', toJSON: () => ({ host: 'db', password: 'method-secret' }) } }, 'x')
    const self = {
      password: 'self-secret',
      toJSON() {
        return this
      },
    }
    log.info({ self }, 'x')
    expect(sink.lines.join('')).not.toMatch(/method-secret|self-secret/)
    expect(sink.records()[0]).toMatchObject({ conn: { host: 'db', password: '[REDACTED]' } })
    expect(sink.records()[1]).toMatchObject({ self: { password: '[REDACTED]' } })
    // JSON leaves a function out, unless it has a toJSON: then it writes what that returns.
    const fn = Object.assign(() => 1, { toJSON: () => ({ apiKey: 'fn-secret' }) })
    log.info({ a: { fn, plain: () => 2 }, list: [fn] }, 'x')
    expect(sink.lines[2]).not.toContain('fn-secret')
    expect(sink.records()[2]).toEqual(
      expect.objectContaining({ a: { fn: { apiKey: '[REDACTED]' } }, list: [{ apiKey: '[REDACTED]' }] }),
    )
  })

  it('censors secrets behind getters, inherited keys and __proto__ keys, and writes BigInt fields', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    const viaGetter = {
      get creds() {
        return { password: 'getter-secret' }
      },
    }
    const viaJson = JSON.parse('{"__proto__": {"token": "proto-key-secret"}}') as object
    const inherited = Object.create({ apiKey: 'inherited-secret' }) as Record<string, unknown>
    inherited.visible = 1
    log.info({ viaGetter, viaJson, inherited, big: 2n ** 70n, nested: { n: 1n, secret: 3n } }, 'x')
    const text = sink.lines[0] as string
    expect(text).not.toMatch(/getter-secret|proto-key-secret|inherited-secret/)
    expect(text).toContain('"big":1180591620717411303424')
    expect(sink.records()[0]).toMatchObject({
      viaGetter: { creds: { password: '[REDACTED]' } },
      viaJson: { ['__proto__']: { token: '[REDACTED]' } },
      nested: { secret: '[REDACTED]' },
    })
  })
})
