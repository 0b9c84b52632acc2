import { eventChannel, traceAsync, tracingChannel } from '@beaver-kit/core'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.ts'
import { capture } from './helpers/capture.ts'

function make(kit: boolean, levels = '') {
  const sink = capture()
  return { log: createLogger({ envPrefix: false, outputs: [], sinks: [sink], level: 'info', levels, kit }), sink }
}

describe('kit visibility (BEAVER_LOG_KIT)', () => {
  it('logs operations of channels created before and after it, with duration and error, at debug', async () => {
    const pkg = uniqueNamespace('pkg')
    const before = tracingChannel<{ key: string }>(pkg, 'get')
    const { log, sink } = make(true)
    const after = tracingChannel<{ key: string; client?: object }>(pkg, 'set')
    await traceAsync(
      before,
      () => ({ key: 'user:1' }),
      async () => 'value',
    )
    await traceAsync(
      after,
      () => ({ key: 'user:2', client: { huge: true } }),
      async () => undefined,
    )
    await expect(
      traceAsync(
        after,
        () => ({ key: 'user:3' }),
        async () => Promise.reject(new Error('down')),
      ),
    ).rejects.toThrow('down')
    eventChannel(pkg, 'breaker-open').publish({ failures: 5, target: 'redis' })
    const records = sink.records()
    expect(records).toEqual([
      expect.objectContaining({
        level: 20,
        module: 'kit',
        channel: `beaver:${pkg}:get`,
        durationMs: expect.any(Number),
        msg: `beaver:${pkg}:get done`,
      }),
      expect.objectContaining({ channel: `beaver:${pkg}:set`, msg: `beaver:${pkg}:set done` }),
      expect.objectContaining({
        channel: `beaver:${pkg}:set`,
        err: expect.objectContaining({ message: 'down' }),
        msg: `beaver:${pkg}:set failed`,
      }),
      expect.objectContaining({ channel: `beaver:${pkg}:breaker-open`, failures: 5, target: 'redis' }),
    ])
    expect(records[1]).not.toHaveProperty('client')
    expect(records[0]).not.toHaveProperty('result')
    await log.close()
    await traceAsync(
      before,
      () => ({ key: 'after close' }),
      async () => 1,
    )
    expect(sink.lines).toHaveLength(4)
  })

  it('never carries keys, values or anything named like a secret, and masks URLs', async () => {
    const pkg = uniqueNamespace('pkg')
    const { log, sink } = make(true)
    await traceAsync(
      tracingChannel<Record<string, unknown>>(pkg, 'get'),
      () => ({
        namespace: 'sessions',
        key: 'session:tok-key-secret',
        keys: 'session:a,session:b',
        value: 'cached-value-secret',
        hit: true,
        apiKey: 'api-key-secret',
        sessionId: 'sid-secret',
        url: 'redis://app:url-secret@cache:6379/0?token=query-secret',
      }),
      async () => 'result-secret',
    )
    eventChannel(pkg, 'evicted').publish({ key: 'user:ada@example.com', values: 3, reason: 'size' })
    const line = sink.lines.join('')
    expect(line).not.toMatch(/secret|ada@example\.com/)
    const [op, event] = sink.records()
    expect(op).toMatchObject({ namespace: 'sessions', hit: true, url: 'redis://****@cache:6379/0?token=****' })
    for (const field of ['key', 'keys', 'value', 'apiKey', 'sessionId', 'result']) expect(op).not.toHaveProperty(field)
    expect(event).toMatchObject({ reason: 'size' })
    expect(event).not.toHaveProperty('key')
    expect(event).not.toHaveProperty('values')
    await log.close()
  })

  it('obeys an explicit level for the kit module, and keeps debug after setLevels() without one', async () => {
    const pkg = uniqueNamespace('pkg')
    const { log, sink } = make(true, 'kit=warn')
    await traceAsync(
      tracingChannel<{ key: string }>(pkg, 'get'),
      () => ({ key: 'k' }),
      async () => 1,
    )
    expect(sink.lines).toEqual([])
    log.setLevels('db=warn')
    await traceAsync(
      tracingChannel<{ key: string }>(pkg, 'get'),
      () => ({ key: 'k' }),
      async () => 1,
    )
    expect(sink.lines).toHaveLength(1)
    await log.close()
  })

  it('is off unless asked, so an unobserved channel stays unobserved', async () => {
    const pkg = uniqueNamespace('pkg')
    const ch = tracingChannel<{ key: string }>(pkg, 'get')
    const { log, sink } = make(false)
    expect(ch.hasSubscribers).toBe(false)
    await traceAsync(
      ch,
      () => ({ key: 'k' }),
      async () => 1,
    )
    expect(sink.lines).toEqual([])
    await log.close()
  })

  it('skips the logger’s own channels, so a failing output cannot feed itself', () => {
    const { log, sink } = make(true)
    eventChannel('logger', 'dropped').publish({ output: 'x', count: 1, reason: 'test' })
    expect(sink.lines).toEqual([])
    return log.close()
  })
})
