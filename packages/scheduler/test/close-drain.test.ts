import { expect, it } from 'vitest'
import { createScheduler, type ClaimRequest } from '@beaver-kit/scheduler'
import { MemoryStore } from '@beaver-kit/scheduler/memory'

// A store whose next claim waits until the test lets it through: the claim is in flight when
// close() starts, and is answered after it.
class HeldClaimStore extends MemoryStore {
  #hold: Promise<void> | undefined
  #held: (() => void) | undefined
  release: () => void = () => undefined
  readonly claimed = new Promise<void>((resolve) => (this.#held = resolve))

  constructor() {
    super()
    this.#hold = new Promise<void>((resolve) => (this.release = resolve))
  }

  override async claim(request: ClaimRequest): Promise<number | undefined> {
    const hold = this.#hold
    if (hold) {
      this.#hold = undefined
      this.#held?.()
      await hold
    }
    return super.claim(request)
  }
}

it('close() waits for a run whose claim was in flight when it began, so no occurrence is left running', async () => {
  const store = new HeldClaimStore()
  const s = createScheduler({ store, envPrefix: false, pollInterval: '50ms' })
  let finished = false
  let started = (): void => undefined
  const running = new Promise<void>((resolve) => (started = resolve))
  let finish = (): void => undefined
  const mayFinish = new Promise<void>((resolve) => (finish = resolve))
  s.schedule('tick', '* * * * * *', async () => {
    started()
    await mayFinish
    finished = true
  })
  await store.claimed
  let closed = false
  const closing = s.close().then(() => void (closed = true))
  store.release()
  await running
  // Before the fix close() resolved with the claim still out; the run then started unawaited.
  expect(closed).toBe(false)
  finish()
  await closing
  expect(finished).toBe(true)
  const [run] = await store.history('tick', { limit: 1 })
  expect(run).toMatchObject({ outcome: 'succeeded' })
}, 10_000)

it('close() still ends within the drain timeout when a claim is never answered', async () => {
  const store = new HeldClaimStore()
  const s = createScheduler({ store, envPrefix: false, pollInterval: '50ms', drainTimeout: '200ms' })
  s.schedule('tick', '* * * * * *', () => undefined)
  await store.claimed
  // Without the bound, close() waits for the claim forever and the test times out.
  await expect(s.close()).resolves.toBeUndefined()
  store.release()
}, 10_000)
