import dc from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { observeOperations, traceAsync, tracingChannel, type OperationOutcome } from '@beaver-kit/core'

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
})
