import { createRequire } from 'node:module'

/** The part of kafkajs' internal RequestQueue this file touches. */
interface RequestQueue {
  pending: unknown[]
  throttledUntil: number
  scheduleCheckPendingRequests(): void
}

let settled = false

/**
 * kafkajs 2.2.4 re-checks its pending requests after every answer, and with nothing pending and
 * no throttle (`throttledUntil` is -1) it sets a timer of `-1 - Date.now()` ms: Node 24 warns
 * (TimeoutNegativeWarning, tulios/kafkajs#1751), clamps it to 1 ms, and every connection then
 * spins a 1 ms timer loop for as long as it is idle (#1704). With nothing pending and no
 * throttle running there is nothing to check: `push()` schedules the check itself when it
 * queues a request. Patched once per process, before the first client is made; kafkajs is
 * unmaintained, so the fix has no release to wait for.
 */
export function stopIdleRequestChecks(): void {
  if (settled) return
  settled = true
  const require = createRequire(import.meta.url)
  const loaded: unknown = require('kafkajs/src/network/requestQueue/index.js')
  const proto = (loaded as { prototype?: Partial<RequestQueue> } | undefined)?.prototype
  const original = proto?.scheduleCheckPendingRequests
  // Another kafkajs layout: leave it as it is.
  if (proto === undefined || typeof original !== 'function') return
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return
    original.call(this)
  }
}
