import dc from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { createLogger, isLoggerError } from '../src/index.ts'
import { listChannels } from '@beaver-kit/core'
import { channels } from '../src/channels.ts'

function listen(name: string): { events: unknown[]; stop(): void } {
  const events: unknown[] = []
  const on = (message: unknown) => void events.push(message)
  dc.subscribe(name, on)
  return { events, stop: () => dc.unsubscribe(name, on) }
}

describe('channels', () => {
  it('declares every channel of the package as beaver:logger:<operation>', () => {
    expect(listChannels(channels).map((c) => [c.name, c.kind])).toEqual([
      ['beaver:logger:dropped', 'event'],
      ['beaver:logger:outputError', 'event'],
    ])
  })

  it('publishes a write failure on outputError and counts it, never throwing into the call', () => {
    const failure = new Error('disk full')
    const errors = listen('beaver:logger:outputError')
    try {
      const log = createLogger({
        envPrefix: false,
        outputs: [],
        sinks: [
          {
            write: () => {
              throw failure
            },
          },
        ],
      })
      expect(() => log.info('x')).not.toThrow()
      expect(errors.events).toEqual([{ output: 'sink#0', error: failure }])
      expect(log.stats()).toEqual({ dropped: 1, outputs: [{ name: 'sink#0', dropped: 1 }] })
    } finally {
      errors.stop()
    }
  })

  it('publishes lines written after close on dropped, with the reason', async () => {
    const dropped = listen('beaver:logger:dropped')
    try {
      const log = createLogger({ envPrefix: false, outputs: [], sinks: [{ write: () => undefined }] })
      await log.close()
      log.info('late')
      expect(dropped.events).toEqual([{ output: 'sink#0', count: 1, reason: 'closed' }])
    } finally {
      dropped.stop()
    }
  })
})

describe('close() failures', () => {
  it('rejects with the one output’s own error when one output fails to close', async () => {
    const failure = new Error('cannot close')
    const log = createLogger({
      envPrefix: false,
      outputs: [],
      sinks: [{ write: () => undefined }, { write: () => undefined, close: () => Promise.reject(failure) }],
    })
    await expect(log.close()).rejects.toBe(failure)
    // Idempotent: the same outcome, not a second attempt.
    await expect(log.close()).rejects.toBe(failure)
  })

  it('rejects with LOG_CLOSE_FAILED holding every error when several outputs fail', async () => {
    const a = new Error('a failed')
    const b = new Error('b failed')
    const closed: string[] = []
    const log = createLogger({
      envPrefix: false,
      outputs: [],
      sinks: [
        { write: () => undefined, close: () => Promise.reject(a) },
        { write: () => undefined, close: () => void closed.push('ok') },
        { write: () => undefined, close: () => Promise.reject(b) },
      ],
    })
    let error: unknown
    try {
      await log.close()
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_CLOSE_FAILED')).toBe(true)
    const e = error as Error & { details: unknown; cause: AggregateError }
    expect(e.message).toBe('2 log outputs failed to close: Error: a failed; Error: b failed')
    expect(e.details).toEqual({ failed: 2 })
    expect(e.cause.errors).toEqual([a, b])
    // The output that could close was closed all the same.
    expect(closed).toEqual(['ok'])
  })
})
