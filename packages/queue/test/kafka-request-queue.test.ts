// kafkajs 2.2.4 set a timer of -Date.now() ms after every answer when nothing was pending
// (TimeoutNegativeWarning in every Kafka test run, and a 1 ms timer loop per idle connection).
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { stopIdleRequestChecks } from '../src/drivers/kafka-request-queue.ts'

interface RequestQueueState {
  pending: unknown[]
  throttledUntil: number
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null
  checkPendingRequests(): void
}
type Schedule = (this: RequestQueueState) => void

const require = createRequire(import.meta.url)
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: { scheduleCheckPendingRequests: Schedule }
}

function queueState(pending: unknown[], throttledUntil: number): RequestQueueState {
  return { pending, throttledUntil, throttleCheckTimeoutId: null, checkPendingRequests: () => undefined }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe("kafkajs' pending-request check", () => {
  it('sets no timer when nothing is pending and nothing is throttled, and still checks what is pending', () => {
    stopIdleRequestChecks()
    const timers = vi.spyOn(globalThis, 'setTimeout')
    const idle = queueState([], -1)
    prototype.scheduleCheckPendingRequests.call(idle)
    expect(timers).not.toHaveBeenCalled()
    expect(idle.throttleCheckTimeoutId).toBeNull()

    const waiting = queueState([{ correlationId: 1 }], -1)
    prototype.scheduleCheckPendingRequests.call(waiting)
    expect(timers).toHaveBeenCalledTimes(1)
    expect(timers.mock.calls[0]?.[1]).toBeGreaterThan(0)
    clearTimeout(waiting.throttleCheckTimeoutId ?? undefined)

    const throttled = queueState([], Date.now() + 5000)
    prototype.scheduleCheckPendingRequests.call(throttled)
    expect(timers).toHaveBeenCalledTimes(2)
    clearTimeout(throttled.throttleCheckTimeoutId ?? undefined)
  })
})
