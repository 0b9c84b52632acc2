import { describe, expect, it } from 'vitest'
import {
  closest,
  describeInstance,
  formatDescription,
  isConfigError,
  resolveConfig,
  defineSchema,
  f,
  toBytes,
  toMs,
} from '@beaver-kit/config'

describe('toMs / toBytes', () => {
  it('read numbers as milliseconds/bytes and text in units', () => {
    expect(toMs(250)).toBe(250)
    expect(toMs('10s')).toBe(10_000)
    expect(toMs('1h30m')).toBe(5_400_000)
    expect(toBytes('64kb')).toBe(65_536)
    expect(toBytes(10)).toBe(10)
  })

  it('a bad value is a ConfigError naming the option', () => {
    let err: unknown
    try {
      toMs('soon', 'ttl')
    } catch (e) {
      err = e
    }
    expect(isConfigError(err)).toBe(true)
    expect((err as Error).message).toContain('option ttl is "soon": expected a duration such as 250ms')
    expect(() => toBytes(-1, 'maxBody')).toThrow(/option maxBody is "-1"/)
  })
})

describe('closest', () => {
  it('is the one "did you mean" of the kit', () => {
    expect(closest('reddis', ['memory', 'redis'])).toBe('redis')
    expect(closest('zzz', ['memory', 'redis'])).toBeUndefined()
  })
})

describe('describeInstance / formatDescription', () => {
  const schema = defineSchema('WIDGET', {
    driver: f.enum({ values: ['memory', 'redis'], default: 'memory', doc: 'Driver' }),
    password: f.string({ secret: true, doc: 'Password' }),
    url: f.url({ doc: 'URL' }),
  })

  it('lists settings with their source, secrets masked, and live state', () => {
    const { entries } = resolveConfig(schema, {
      options: { password: 'hunter2' },
      env: { BEAVER_WIDGET_DRIVER: 'redis' },
    })
    const d = describeInstance('widget', undefined, entries, { connected: false, pool: 3 })
    expect(d.package).toBe('widget')
    expect(d.envPrefix).toBe('BEAVER_')
    expect(d.state).toEqual({ connected: false, pool: 3 })
    const text = formatDescription(d)
    expect(text).not.toContain('hunter2')
    expect(text.split('\n')).toEqual([
      'BEAVER_WIDGET_DRIVER    redis  env',
      'BEAVER_WIDGET_PASSWORD  ****   option',
      'widget.connected        false  state',
      'widget.pool             3      state',
    ])
    expect(formatDescription(d, { all: true })).toContain('BEAVER_WIDGET_URL       -      unset')
  })
})
