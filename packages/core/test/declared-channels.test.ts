import dc from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { defineChannels, event, isDeclaredChannels, listChannels, tracing, watchChannels } from '@beaver-kit/core'

describe('defineChannels', () => {
  it('builds beaver:<package>:<operation> channels and lists them for the docs', () => {
    const channels = defineChannels('widget', {
      getMany: tracing<{ count: number }>('A batch read', 'count'),
      breakerOpen: event<{ host: string }>('A circuit opened', 'host'),
    })
    expect(listChannels(channels)).toEqual([
      { name: 'beaver:widget:getMany', kind: 'tracing', doc: 'A batch read', payload: 'count' },
      { name: 'beaver:widget:breakerOpen', kind: 'event', doc: 'A circuit opened', payload: 'host' },
    ])
    expect(isDeclaredChannels(channels)).toBe(true)
    expect(isDeclaredChannels({})).toBe(false)
    const seen: unknown[] = []
    const listener = (m: unknown): void => void seen.push(m)
    dc.subscribe('beaver:widget:breakerOpen', listener)
    channels.breakerOpen.publish({ host: 'a' })
    dc.unsubscribe('beaver:widget:breakerOpen', listener)
    expect(seen).toEqual([{ host: 'a' }])
    expect(channels.getMany.start.name).toBe('tracing:beaver:widget:getMany:start')
  })

  it('announces declared channels to watchers', () => {
    const names: string[] = []
    const stop = watchChannels((n) => names.push(n))
    defineChannels('watched', { put: tracing<object>('A write', '-') })
    stop()
    expect(names).toContain('beaver:watched:put')
  })

  it('refuses names in another case style', () => {
    expect(() => defineChannels('widget', { 'idle-error': event<object>('x', '-') })).toThrow(/camelCase/)
    expect(() => defineChannels('Widget', { get: event<object>('x', '-') })).toThrow(/lowercase/)
  })
})
