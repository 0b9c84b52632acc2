import { EventEmitter, once } from 'node:events'
import { Readable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bindLogContext, createLogger, getLogContext, setLogContext, withLogContext } from '../src/index.ts'
import { capture } from './helpers/capture.ts'

function make(options: Parameters<typeof createLogger>[0] = {}) {
  const sink = capture()
  const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], ...options })
  return { log, sink }
}

describe('withLogContext', () => {
  it('adds its fields to every line inside, across await and timers', async () => {
    const { log, sink } = make()
    await withLogContext({ requestId: 'r1', userId: 7 }, async () => {
      log.info('start')
      await Promise.resolve()
      await delay(1)
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          log.info('timer')
          resolve()
        }, 1),
      )
      setImmediate(() => log.info('immediate'))
      await new Promise((r) => setImmediate(r))
    })
    log.info('outside')
    expect(sink.records().map((r) => [r.msg, r.requestId, r.userId])).toEqual([
      ['start', 'r1', 7],
      ['timer', 'r1', 7],
      ['immediate', 'r1', 7],
      ['outside', undefined, undefined],
    ])
  })

  it('carries into event emitters and streams created inside, and into bound listeners', async () => {
    const { log, sink } = make()
    const longLived = new EventEmitter()
    await withLogContext({ requestId: 'r2' }, async () => {
      const emitter = new EventEmitter()
      emitter.on('ping', () => log.info('emitter'))
      setTimeout(() => emitter.emit('ping'), 1)
      await once(emitter, 'ping')
      const stream = new Readable({ read() {} })
      stream.on('data', () => log.info('stream'))
      setTimeout(() => stream.push('chunk'), 1)
      await once(stream, 'data')
      longLived.on(
        'job',
        bindLogContext(() => log.info('bound listener')),
      )
    })
    // Emitted from outside any context: the bound listener still carries r2.
    longLived.emit('job')
    expect(sink.records().map((r) => [r.msg, r.requestId])).toEqual([
      ['emitter', 'r2'],
      ['stream', 'r2'],
      ['bound listener', 'r2'],
    ])
  })

  it('nests, lets the call override, and setLogContext adds fields later', () => {
    const { log, sink } = make()
    withLogContext({ requestId: 'outer', tenant: 'a' }, () => {
      withLogContext({ requestId: 'inner' }, () => {
        expect(setLogContext({ userId: 42 })).toBe(true)
        log.info({ tenant: 'explicit' }, 'nested')
        expect(getLogContext()).toEqual({ requestId: 'inner', tenant: 'a', userId: 42 })
      })
      log.info('outer again')
    })
    expect(setLogContext({ x: 1 })).toBe(false)
    expect(getLogContext()).toBeUndefined()
    expect(sink.records().map((r) => [r.msg, r.requestId, r.tenant, r.userId])).toEqual([
      ['nested', 'inner', 'explicit', 42],
      ['outer again', 'outer', 'a', undefined],
    ])
  })

  it('never mutates the object passed to the log call', () => {
    const { log } = make()
    const fields = { a: 1 }
    withLogContext({ requestId: 'r' }, () => log.info(fields, 'x'))
    expect(fields).toEqual({ a: 1 })
  })
})

describe('OpenTelemetry correlation', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  })
  afterAll(() => {
    context.disable()
  })

  it('adds trace_id and span_id while a span is active, and nothing otherwise', async () => {
    const { log, sink } = make()
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    })
    await context.with(trace.setSpan(context.active(), span), async () => {
      await delay(1)
      withLogContext({ requestId: 'r' }, () => log.info('traced'))
    })
    log.info('untraced')
    const [traced, untraced] = sink.records()
    expect(traced).toMatchObject({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
      trace_flags: '01',
      requestId: 'r',
    })
    expect(untraced).not.toHaveProperty('trace_id')
  })

  it('can be turned off', () => {
    const off = make({ otel: false })
    const on = make()
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    })
    // The same active span for both: only the setting differs.
    context.with(trace.setSpan(context.active(), span), () => {
      off.log.info('x')
      on.log.info('x')
    })
    expect(on.sink.records()[0]).toMatchObject({ trace_id: '0af7651916cd43dd8448eb211c80319c' })
    expect(off.sink.records()[0]).not.toHaveProperty('trace_id')
    expect(off.sink.records()[0]).not.toHaveProperty('span_id')
  })
})
