import { describe, expect, it } from 'vitest'
import { HandlerAbort } from '../src/handler-abort.ts'

describe('HandlerAbort', () => {
  it('fires a signal read before the abort, with the reason', () => {
    const abort = new HandlerAbort()
    const signal = abort.signal
    const heard: unknown[] = []
    signal.addEventListener('abort', () => heard.push(signal.reason))
    const reason = new Error('timed out')
    abort.abort(reason)
    abort.abort(new Error('second'))
    expect(heard).toEqual([reason])
    expect(abort.aborted).toBe(true)
    expect(abort.reason).toBe(reason)
  })

  it('hands out an aborted signal when first read after the abort', () => {
    const abort = new HandlerAbort()
    const reason = new Error('lost')
    abort.abort(reason)
    expect(abort.signal.aborted).toBe(true)
    expect(abort.signal.reason).toBe(reason)
  })

  it('races a run: settles with it, or rejects with the reason once aborted', async () => {
    await expect(new HandlerAbort().race(Promise.resolve(7))).resolves.toBe(7)
    await expect(new HandlerAbort().race(Promise.reject(new Error('handler failed')))).rejects.toThrow('handler failed')

    const abort = new HandlerAbort()
    const never = new Promise<void>(() => undefined)
    const racing = abort.race(never)
    const reason = new Error('cancelled')
    abort.abort(reason)
    await expect(racing).rejects.toBe(reason)
    await expect(abort.race(Promise.resolve(1))).rejects.toBe(reason)
  })
})
