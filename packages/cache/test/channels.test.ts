import { readFileSync } from 'node:fs'
import dc from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { listChannels } from '@beaver-kit/core'
import { channels, createCache } from '@beaver-kit/cache'

describe('tracing channels', () => {
  it('declares every channel once, camelCase, and the README Diagnostics section lists exactly them', () => {
    const declared = listChannels(channels).map((c) => c.name)
    expect(new Set(declared).size).toBe(declared.length)
    for (const name of declared) expect(name).toMatch(/^beaver:cache:[a-z][a-zA-Z]*$/)
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('<!-- channels:start -->'), readme.indexOf('<!-- channels:end -->'))
    expect([...section.matchAll(/`(beaver:cache:[a-zA-Z]+)`/g)].map((m) => m[1])).toEqual(declared)
  })

  it('traces the synchronous memory path too (getSync/setSync), without the value', () => {
    const c = createCache({ envPrefix: false, namespace: 'sync' })
    const seen: Array<Record<string, unknown>> = []
    const handlers = {
      start: () => undefined,
      end: (m: unknown) => void seen.push({ ...(m as object) }),
      asyncStart: () => undefined,
      asyncEnd: () => undefined,
      error: () => undefined,
    }
    dc.tracingChannel('beaver:cache:get').subscribe(handlers)
    dc.tracingChannel('beaver:cache:set').subscribe(handlers)
    try {
      c.setSync('k', 'secret-value')
      expect(c.getSync('k')).toBe('secret-value')
      expect(c.getSync('none')).toBeUndefined()
    } finally {
      dc.tracingChannel('beaver:cache:get').unsubscribe(handlers)
      dc.tracingChannel('beaver:cache:set').unsubscribe(handlers)
    }
    expect(seen.map((m) => [m.op, m.namespace, m.hit])).toEqual([
      ['set', 'sync', undefined],
      ['get', 'sync', true],
      ['get', 'sync', false],
    ])
    // Neither the value nor the key is published (keys may hold tokens).
    expect(JSON.stringify(seen)).not.toContain('secret-value')
    expect(seen.every((m) => !('key' in m))).toBe(true)
  })

  it('publishes every operation on beaver:cache:<op> with namespace, driver, key and hit, never the value', async () => {
    const c = createCache({ envPrefix: false, namespace: 'traced' })
    const seen: Array<Record<string, unknown>> = []
    const handlers = {
      start: (m: unknown) => void seen.push({ ...(m as object) }),
      // An operation the memory driver answered synchronously ends here, with `result` set
      // (to undefined: the value is never published); an asynchronous one at asyncEnd.
      end: (m: unknown) => {
        if ('result' in (m as object)) seen.push({ ...(m as object), phase: 'end' })
      },
      asyncStart: () => undefined,
      asyncEnd: (m: unknown) => void seen.push({ ...(m as object), phase: 'end' }),
      error: () => undefined,
    }
    const ops = ['set', 'get', 'getMany', 'getOrSet', 'delete', 'clear']
    for (const op of ops) dc.tracingChannel(`beaver:cache:${op}`).subscribe(handlers)
    try {
      await c.set('k', { secret: 'value' })
      await c.get('k')
      await c.getMany(['k', 'x'])
      await c.getOrSet('g', () => 1)
      await c.delete('k')
      await c.clear()
    } finally {
      for (const op of ops) dc.tracingChannel(`beaver:cache:${op}`).unsubscribe(handlers)
      await c.close()
    }
    expect(seen.map((m) => `${m.op as string}${m.phase ? ':end' : ''}`)).toEqual(ops.flatMap((op) => [op, `${op}:end`]))
    expect(seen.find((m) => m.op === 'get' && m.phase)).toEqual({
      op: 'get',
      namespace: 'traced',
      driver: 'memory',
      hit: true,
      phase: 'end',
    })
    expect(seen.find((m) => m.op === 'getMany' && m.phase)).toEqual({
      op: 'getMany',
      namespace: 'traced',
      driver: 'memory',
      count: 2,
      hits: 1,
      phase: 'end',
    })
    expect(JSON.stringify(seen)).not.toContain('value')
  })
})
