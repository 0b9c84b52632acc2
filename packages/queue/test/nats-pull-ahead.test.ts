// Messages pulled ahead of the consumer (NATS): taken a few at a time as slots free up, and
// given back (never kept) when the consumer does not take them within the hold time, so that
// JetStream never redelivers a message that waited unstarted in this process. The pull is a
// fake that delivers when the test says; the messages are stand-ins the code only passes on.
import { describe, expect, it, vi } from 'vitest'
import type { JsMsg } from '@nats-io/jetstream'
import { PullAhead, aheadSize, type PullInto } from '../src/drivers/nats-pull-ahead.ts'

const msg = (n: number): JsMsg => ({ seq: n }) as unknown as JsMsg
const seqs = (taken: { messages: readonly JsMsg[] } | undefined): number[] | undefined =>
  taken?.messages.map((m) => m.seq)

/** A pull the test drives: deliver() hands messages over, end() closes the request. */
function fakePull(): { pull: PullInto; deliver: (...ns: number[]) => void; end: () => void; aborted: () => boolean } {
  let onMessage: ((m: JsMsg) => void) | undefined
  let finish: (() => void) | undefined
  let signal: AbortSignal | undefined
  const pull: PullInto = (s, on) => {
    signal = s
    onMessage = on
    return new Promise<void>((resolve) => {
      finish = resolve
      s.addEventListener('abort', () => resolve(), { once: true })
    })
  }
  return {
    pull,
    deliver: (...ns) => ns.forEach((n) => onMessage?.(msg(n))),
    end: () => finish?.(),
    aborted: () => signal?.aborted === true,
  }
}

const never = new AbortController().signal
/** The driver's clock, moved by hand. */
const clock = { t: 1000, now: (): number => clock.t }

describe('nats pull ahead', () => {
  it('hands out what arrived, at most max at a time, and is free again once all was taken', async () => {
    const ahead = new PullAhead(clock.now)
    const f = fakePull()
    const given: number[] = []
    ahead.start(f.pull, 10_000, async (ms) => void given.push(...ms.map((m) => m.seq)))
    const first = ahead.take(2, never)
    clock.t = 2000
    f.deliver(1, 2, 3)
    clock.t = 2500
    const taken = await first
    expect(seqs(taken)).toEqual([1, 2])
    // JetStream's ack_wait runs from the arrival: the driver times in-progress acks from it.
    expect(taken?.since).toBe(2000)
    f.end()
    expect(ahead.busy).toBe(true)
    expect(seqs(await ahead.take(2, never))).toEqual([3])
    expect(ahead.busy).toBe(false)
    expect(await ahead.take(2, never)).toBeUndefined()
    expect(given).toEqual([])
  })

  it('gives back what the consumer did not take within the hold time, and what comes after', async () => {
    const ahead = new PullAhead(clock.now)
    const f = fakePull()
    const given: number[] = []
    ahead.start(f.pull, 50, async (ms) => void given.push(...ms.map((m) => m.seq)))
    f.deliver(1, 2)
    expect(seqs(await ahead.take(1, never))).toEqual([1])
    await vi.waitFor(() => expect(given).toEqual([2]), { timeout: 2000, interval: 10 })
    expect(f.aborted()).toBe(true)
    expect(ahead.busy).toBe(false)
    f.deliver(3)
    expect(given).toEqual([2, 3])
  })

  it('stop() gives back everything that arrived, and anything the request still brings', async () => {
    const ahead = new PullAhead(clock.now)
    const f = fakePull()
    const given: number[] = []
    ahead.start(f.pull, 10_000, async (ms) => void given.push(...ms.map((m) => m.seq)))
    f.deliver(1, 2)
    await ahead.stop(async (ms) => void given.push(...ms.map((m) => m.seq)))
    f.deliver(3)
    expect(given).toEqual([1, 2, 3])
    expect(await ahead.take(5, never)).toBeUndefined()
  })

  it('an aborted take while nothing arrived cuts the pull short', async () => {
    const ahead = new PullAhead(clock.now)
    const f = fakePull()
    ahead.start(f.pull, 10_000, async () => undefined)
    const controller = new AbortController()
    const taking = ahead.take(5, controller.signal)
    controller.abort()
    expect((await taking)?.messages).toEqual([])
    expect(f.aborted()).toBe(true)
  })

  it('pulls one ahead until handlers were timed, then as many as a quarter of the hold time takes', () => {
    expect(aheadSize(undefined, 15_000)).toBe(1)
    expect(aheadSize(0.2, 15_000)).toBe(64)
    expect(aheadSize(100, 15_000)).toBe(37)
    expect(aheadSize(5000, 15_000)).toBe(1)
  })
})
