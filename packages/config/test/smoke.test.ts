import { describe, expect, it } from 'vitest'
import { defineSchema, f, resolveConfig } from '@beaver-kit/config'

describe('smoke', () => {
  it('resolves', () => {
    const s = defineSchema('CACHE', { driver: f.enum({ values: ['memory', 'redis'], default: 'memory', doc: 'd' }), ttl: f.duration({ default: '1.5h', doc: 't' }) })
    const { values } = resolveConfig(s, { env: { BEAVER_CACHE_DRIVER: 'redis' } })
    expect(values.driver).toBe('redis')
    expect(values.ttl).toBe(5_400_000)
    expect(process.version).toMatch(/^v24/)
  })
})
