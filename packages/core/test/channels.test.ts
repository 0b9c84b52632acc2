import dc from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { eventChannel, traceAsync, tracingChannel, watchChannels } from '@beaver-kit/core'

describe('diagnostics channels', () => {
  it('does not build the context when nobody listens', async () => {
    const ch = tracingChannel<{ key: string }>('test', 'quiet')
    let built = 0
    const result = await traceAsync(
      ch,
      () => {
        built++
        return { key: 'k' }
      },
      async () => 42,
    )
    expect(result).toBe(42)
    expect(built).toBe(0)
  })

  it('publishes start, end and error with the context to subscribers', async () => {
    const ch = tracingChannel<{ key: string; result?: unknown; error?: unknown }>('test', 'op')
    const events: string[] = []
    const handlers = {
      start: (m: unknown) => events.push(`start:${(m as { key: string }).key}`),
      end: () => events.push('end'),
      asyncStart: () => events.push('asyncStart'),
      asyncEnd: () => events.push('asyncEnd'),
      error: (m: unknown) => events.push(`error:${(m as { error: Error }).error.message}`),
    }
    ch.subscribe(handlers)
    try {
      await traceAsync(
        ch,
        () => ({ key: 'a' }),
        async () => 1,
      )
      await traceAsync(
        ch,
        () => ({ key: 'b' }),
        async () => Promise.reject(new Error('boom')),
      ).catch(() => undefined)
    } finally {
      ch.unsubscribe(handlers)
    }
    expect(events).toEqual([
      'start:a',
      'end',
      'asyncStart',
      'asyncEnd',
      'start:b',
      'end',
      'error:boom',
      'asyncStart',
      'asyncEnd',
    ])
    expect(dc.hasSubscribers('tracing:beaver:test:op:start')).toBe(false)
  })

  it('never publishes the resolved value', async () => {
    const ch = tracingChannel<{ key: string }>('test', 'private')
    const seen: unknown[] = []
    const noop = (): void => undefined
    const handlers = {
      start: noop,
      end: noop,
      asyncStart: noop,
      error: noop,
      asyncEnd: (m: unknown) => void seen.push({ ...(m as object) }),
    }
    ch.subscribe(handlers)
    try {
      await traceAsync(
        ch,
        () => ({ key: 'k' }),
        async () => ({ secret: 'cached value' }),
      )
    } finally {
      ch.unsubscribe(handlers)
    }
    expect(seen).toEqual([{ key: 'k' }])
  })

  it('watchChannels reports existing and future beaver channels', () => {
    tracingChannel('test', 'existing')
    const seen: string[] = []
    const unwatch = watchChannels((name) => seen.push(name))
    eventChannel('test', 'later')
    unwatch()
    eventChannel('test', 'after-unwatch')
    expect(seen).toContain('beaver:test:existing')
    expect(seen).toContain('beaver:test:later')
    expect(seen).not.toContain('beaver:test:after-unwatch')
  })
})
