/** The hybrid driver's counters, in the cache's `stats().hybrid`. */
export interface HybridStats {
  mode: 'write-through' | 'write-behind'
  /** `up` or `down` (failover to memory). */
  store: 'up' | 'down'
  /** Reads answered from memory: store round trips avoided (the cost saving). */
  memoryHits: number
  storeReads: number
  storeWrites: number
  /** Writes queued (write-behind, or write-through during an outage). */
  queued: number
  /** Writes the store acknowledged from the queue. */
  flushed: number
  queueDepth: number
  /** Times the store was found down. */
  failovers: number
  recoveries: number
  /** Operations answered without the store because it was down. */
  degraded: number
  flushFailures: number
}
