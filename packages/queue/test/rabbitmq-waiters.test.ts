// The rabbitmq driver's waiting fetches share one timer instead of setting and clearing one
// per wait (see FetchWaiters): every wait still ends at its deadline or at a wake-up.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FetchWaiters } from '../src/drivers/rabbitmq-waiters.ts'

describe('FetchWaiters', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })
  const clock = (): number => Date.now()

  it('ends a wait nobody wakes at its deadline, and each of several at its own', async () => {
    const w = new FetchWaiters(clock)
    const ended: string[] = []
    const long = w.wait(500).then(() => ended.push('long'))
    const short = w.wait(100).then(() => ended.push('short'))
    await vi.advanceTimersByTimeAsync(99)
    expect(ended).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    await short
    expect(ended).toEqual(['short'])
    await vi.advanceTimersByTimeAsync(399)
    expect(ended).toEqual(['short'])
    await vi.advanceTimersByTimeAsync(1)
    await long
    expect(ended).toEqual(['short', 'long'])
    expect(w.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('ends every wait at wakeAll, and a thousand waits woken so arm one timer', async () => {
    const w = new FetchWaiters(clock)
    const armed = vi.spyOn(globalThis, 'setTimeout')
    for (let i = 0; i < 1000; i++) {
      const waiting = w.wait(1000)
      w.wakeAll()
      await waiting
    }
    expect(w.size).toBe(0)
    expect(armed).toHaveBeenCalledTimes(1)
    // The timer that fires with nobody waiting is not armed again.
    await vi.advanceTimersByTimeAsync(1000)
    expect(vi.getTimerCount()).toBe(0)
    armed.mockRestore()
  })

  it('keeps a later wait to its own deadline when the timer fires for an earlier one', async () => {
    const w = new FetchWaiters(clock)
    let first = false
    let second = false
    void w.wait(100).then(() => (first = true))
    await vi.advanceTimersByTimeAsync(50)
    void w.wait(100).then(() => (second = true))
    await vi.advanceTimersByTimeAsync(50)
    expect([first, second]).toEqual([true, false])
    await vi.advanceTimersByTimeAsync(49)
    expect(second).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(second).toBe(true)
  })
})
