import dc from 'node:diagnostics_channel'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { AsyncLocalStorage } from 'node:async_hooks'
import { observeOperations, traceAsync, traceNow, tracingChannel, type OperationOutcome } from '@beaver-kit/core'

type Ctx = { op: string }

function watch(name: string): { seen: Array<[string, OperationOutcome]>; starts: string[]; stop: () => void } {
  const seen: Array<[string, OperationOutcome]> = []
  const starts: string[] = []
  const stop = observeOperations<Ctx>(name, {
    start: (ctx) => starts.push(ctx.op),
    finish: (ctx, outcome) => seen.push([ctx.op, outcome]),
  })
  return { seen, starts, stop }
}

describe('observeOperations', () => {
  it('finishes an async operation once it settles, with its duration', async () => {
    const ch = tracingChannel<Ctx>('observe', 'async')
    const { seen, starts, stop } = watch('beaver:observe:async')
    let release!: () => void
    const running = traceAsync(
      ch,
      () => ({ op: 'a' }),
      () => new Promise<void>((r) => (release = r)),
    )
    expect(starts).toEqual(['a'])
    expect(seen).toEqual([])
    release()
    await running
    expect(seen).toHaveLength(1)
    expect(seen[0]?.[1].error).toBeUndefined()
    expect(seen[0]?.[1].durationMs).toBeGreaterThanOrEqual(0)
    const failing = traceAsync(
      ch,
      () => ({ op: 'b' }),
      () => Promise.reject(new Error('boom')),
    )
    await expect(failing).rejects.toThrow('boom')
    expect((seen[1]?.[1].error as Error).message).toBe('boom')
    stop()
    await traceAsync(
      ch,
      () => ({ op: 'c' }),
      async () => 1,
    )
    expect(seen).toHaveLength(2)
    expect(ch.hasSubscribers).toBe(false)
  })

  it('finishes a synchronous operation at its end, and a synchronous throw at once', () => {
    const ch = dc.tracingChannel<unknown, Ctx>('beaver:observe:sync')
    const { seen, stop } = watch('beaver:observe:sync')
    ch.traceSync(() => 1, { op: 'sync' })
    expect(seen.map(([op]) => op)).toEqual(['sync'])
    expect(() =>
      ch.traceSync(
        () => {
          throw new Error('sync boom')
        },
        { op: 'throws' },
      ),
    ).toThrow('sync boom')
    expect((seen[1]?.[1].error as Error).message).toBe('sync boom')
    const tc = tracingChannel<Ctx>('observe', 'sync')
    expect(() =>
      traceAsync(
        tc,
        () => ({ op: 'thrown before a promise' }),
        () => {
          throw new Error('early')
        },
      ),
    ).toThrow('early')
    expect(seen.map(([op]) => op)).toEqual(['sync', 'throws', 'thrown before a promise'])
    stop()
  })

  it('shares one start time between observers', async () => {
    const ch = tracingChannel<Ctx>('observe', 'shared')
    const a = watch('beaver:observe:shared')
    const b = observeOperations<Ctx>('beaver:observe:shared', { finish: (_ctx, o) => a.seen.push(['b', o]) })
    await traceAsync(
      ch,
      () => ({ op: 'a' }),
      async () => undefined,
    )
    expect(a.seen).toHaveLength(2)
    a.stop()
    b()
  })

  it('reports a zero duration for an operation that started before it subscribed', async () => {
    const ch = tracingChannel<Ctx>('observe', 'late')
    let stop: (() => void) | undefined
    let seen: OperationOutcome | undefined
    const other = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
    ch.subscribe(other)
    const running = traceAsync(
      ch,
      () => ({ op: 'late' }),
      async () => {
        stop = observeOperations<Ctx>('beaver:observe:late', { finish: (_c, o) => (seen = o) })
        await Promise.resolve()
      },
    )
    await running
    expect(seen?.durationMs).toBe(0)
    stop?.()
    ch.unsubscribe(other)
  })

  it('traceNow: an operation that answers at once publishes start and end, never its value', () => {
    const ch = tracingChannel<Ctx & { hit?: boolean }>('observe', 'now')
    const events: string[] = []
    const raw = {
      start: () => void events.push('start'),
      end: (m: unknown) => void events.push(`end result=${String('result' in (m as object))}`),
      asyncStart: () => void events.push('asyncStart'),
      asyncEnd: () => void events.push('asyncEnd'),
      error: () => void events.push('error'),
    }
    ch.subscribe(raw)
    const { seen, stop } = watch('beaver:observe:now')
    const ctx: Ctx & { hit?: boolean; result?: unknown } = { op: 'hit' }
    const value = traceNow(ch, ctx, (c) => {
      c.hit = true
      return 'the value'
    })
    expect(value).toBe('the value')
    expect(ctx.result).toBeUndefined()
    expect(events).toEqual(['start', 'end result=true'])
    expect(seen.map(([op, o]) => [op, o.error])).toEqual([['hit', undefined]])
    expect(() =>
      traceNow(ch, { op: 'throws' }, () => {
        throw new Error('now boom')
      }),
    ).toThrow('now boom')
    expect(events.slice(2)).toEqual(['start', 'error', 'end result=false'])
    expect((seen[1]?.[1].error as Error).message).toBe('now boom')
    stop()
    ch.unsubscribe(raw)
  })

  it('skips the start machinery when nothing listens to start, and runs stores bound to it otherwise', async () => {
    const ch = tracingChannel<Ctx>('observe', 'stores')
    const ended: string[] = []
    const endOnly = { asyncEnd: (m: unknown) => void ended.push((m as Ctx).op) }
    ch.subscribe(endOnly as unknown as Parameters<typeof ch.subscribe>[0])
    expect(ch.start.hasSubscribers).toBe(false)
    await traceAsync(
      ch,
      () => ({ op: 'end only' }),
      async () => undefined,
    )
    expect(traceNow(ch, { op: 'now, end only' }, () => 2)).toBe(2)
    expect(ended).toEqual(['end only'])
    const store = new AsyncLocalStorage<string>()
    ch.start.bindStore(store, (m) => `in ${(m as Ctx).op}`)
    const inside = await traceAsync(
      ch,
      () => ({ op: 'bound' }),
      async () => store.getStore(),
    )
    expect(inside).toBe('in bound')
    expect(traceNow(ch, { op: 'bound now' }, () => store.getStore())).toBe('in bound now')
    ch.start.unbindStore(store)
    ch.unsubscribe(endOnly as unknown as Parameters<typeof ch.subscribe>[0])
  })

  it('timed: false reads no clock and needs no start subscription', async () => {
    // A fake performance clock: each operation takes exactly 5 ms of it.
    vi.useFakeTimers({ toFake: ['performance'] })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    const ch = tracingChannel<Ctx>('observe', 'untimed')
    const seen: OperationOutcome[] = []
    const stop = observeOperations<Ctx>('beaver:observe:untimed', { finish: (_c, o) => seen.push(o) }, { timed: false })
    expect(ch.start.hasSubscribers).toBe(false)
    await traceAsync(
      ch,
      () => ({ op: 'a' }),
      async () => {
        vi.advanceTimersByTime(5)
      },
    )
    expect(seen[0]?.durationMs).toBe(0)
    // Another observer's clock is shared.
    const timed = watch('beaver:observe:untimed')
    await traceAsync(
      ch,
      () => ({ op: 'b' }),
      async () => {
        vi.advanceTimersByTime(5)
      },
    )
    expect(seen[1]?.durationMs).toBe(5)
    timed.stop()
    stop()
    expect(ch.hasSubscribers).toBe(false)
  })
})
