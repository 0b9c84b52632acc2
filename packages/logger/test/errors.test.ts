import { BeaverError } from '@beaver-kit/core'
import { describe, expect, it } from 'vitest'
import { createLogger, serializeError } from '../src/index.ts'
import { capture } from './helpers/capture.ts'

function make() {
  const sink = capture()
  return { log: createLogger({ envPrefix: false, outputs: [], sinks: [sink] }), sink }
}

describe('error serialization', () => {
  it('writes message, stack, code, details and the whole cause chain for log.error(err)', () => {
    const { log, sink } = make()
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    const mid = new BeaverError('CACHE_TIMEOUT', 'get timed out', { cause: root, details: { key: 'user:1' } })
    log.error(new Error('request failed', { cause: mid }))
    const rec = sink.records()[0] as { msg: string; err: Record<string, unknown> }
    expect(rec.msg).toBe('request failed')
    expect(rec.err).toMatchObject({
      type: 'Error',
      message: 'request failed',
      stack: expect.stringContaining('request failed'),
      cause: {
        type: 'BeaverError',
        message: 'get timed out',
        code: 'CACHE_TIMEOUT',
        details: { key: 'user:1' },
        cause: { type: 'Error', message: 'socket hang up', code: 'ECONNRESET' },
      },
    })
  })

  it('writes AggregateError members, errors under any top-level key, and err with a message', () => {
    const { log, sink } = make()
    const agg = new AggregateError([new Error('a'), new TypeError('b')], 'two failed')
    log.warn({ failure: agg, err: new Error('also') }, 'partial')
    const rec = sink.records()[0] as { msg: string; failure: Record<string, unknown>; err: Record<string, unknown> }
    expect(rec.msg).toBe('partial')
    expect(rec.failure).toMatchObject({
      type: 'AggregateError',
      errors: [{ message: 'a' }, { type: 'TypeError', message: 'b' }],
    })
    expect(rec.err).toMatchObject({ message: 'also' })
  })

  it('cuts cycles and very deep chains instead of following them', () => {
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    Object.defineProperty(a, 'cause', { value: b, enumerable: false })
    expect(serializeError(b)).toMatchObject({ message: 'b', cause: { message: 'a', cause: '[Circular]' } })
    let deep = new Error('0')
    for (let i = 1; i < 30; i++) deep = new Error(String(i), { cause: deep })
    expect(JSON.stringify(serializeError(deep))).toContain('cause chain cut')
  })

  it('keeps non-error causes as they are', () => {
    expect(serializeError(new Error('x', { cause: { status: 503 } }))).toMatchObject({ cause: { status: 503 } })
  })
})
