// The wait of an idle SQL fetch: a close aborts it. An abort that came while the fetch was
// still looking (before the wait began) fires no event, and the wait used to sleep its whole
// poll interval: consumer.close() hung 30 s in the LISTEN/NOTIFY tests under load.
import { describe, expect, it } from 'vitest'
import { WakeBoard } from '../src/drivers/sql-wake.ts'

describe('WakeBoard.wait', () => {
  it('ends at once for a signal aborted before the wait began', async () => {
    const board = new WakeBoard()
    const aborted = new AbortController()
    aborted.abort()
    const outcome = await Promise.race([
      board.wait('q', board.seen('q'), 60_000, aborted.signal).then(() => 'ended'),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 2000).unref()),
    ])
    expect(outcome).toBe('ended')
  })

  it('ends on a wake-up of every queue that came after the look (LISTEN back in place)', async () => {
    const board = new WakeBoard()
    const seen = board.seen('q')
    board.wakeAll()
    const outcome = await Promise.race([
      board.wait('q', seen, 60_000, new AbortController().signal).then(() => 'ended'),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 2000).unref()),
    ])
    expect(outcome).toBe('ended')
  })
})
