// The broker's storage: an in-memory log per topic-partition (no segments, no retention, no
// replication: the high watermark is the log end offset), appends checked for an idempotent
// producer's sequence numbers, and the wake-ups a long-polling fetch waits on.
import { batchCrcValid, readBatchHeader, splitBatches, withBaseOffset } from './record-batch.ts'

/** Error codes of the protocol this broker answers with (kafka.apache.org/protocol, "Error Codes"). */
export const ErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
} as const

interface StoredBatch {
  base: number
  last: number
  bytes: Buffer
}

interface ProducerPartitionState {
  epoch: number
  /** Sequence of the last record appended. */
  lastSequence: number
  /** The last few batches' first sequence → base offset, to answer a retried batch with its first offset. */
  recent: Array<{ baseSequence: number; lastSequence: number; baseOffset: number }>
}

/** Batches a retried produce can still be matched against (Kafka keeps the last five). */
const RECENT_BATCHES = 5

export class PartitionLog {
  readonly #batches: StoredBatch[] = []
  #end = 0
  readonly #producers = new Map<number, ProducerPartitionState>()
  readonly #waiters = new Set<() => void>()

  /** The next offset to be written (also the high watermark: nothing is replicated). */
  get endOffset(): number {
    return this.#end
  }

  get startOffset(): number {
    return 0
  }

  /** Appends a produce request's record set; resolves the base offset of its first batch. */
  append(records: Buffer): { error: number; baseOffset: number } {
    let batches: Buffer[]
    try {
      batches = splitBatches(records)
      if (batches.length === 0 || !batches.every(batchCrcValid)) throw new RangeError('bad CRC')
    } catch {
      return { error: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1 }
    }
    let first = -1
    for (const batch of batches) {
      const h = readBatchHeader(batch)
      const checked = this.#checkSequence(h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta)
      if (checked.error !== ErrorCode.NONE) return { error: checked.error, baseOffset: -1 }
      if (checked.duplicateOf !== undefined) {
        if (first < 0) first = checked.duplicateOf
        continue
      }
      const base = this.#end
      this.#batches.push({ base, last: base + h.lastOffsetDelta, bytes: withBaseOffset(batch, base) })
      this.#end = base + h.lastOffsetDelta + 1
      if (h.producerId >= 0)
        this.#recordSequence(h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta, base)
      if (first < 0) first = base
    }
    for (const wake of this.#waiters) wake()
    return { error: ErrorCode.NONE, baseOffset: first }
  }

  #checkSequence(
    producerId: number,
    epoch: number,
    baseSequence: number,
    lastOffsetDelta: number,
  ): { error: number; duplicateOf?: number } {
    if (producerId < 0) return { error: ErrorCode.NONE }
    const state = this.#producers.get(producerId)
    if (!state || epoch > state.epoch) return { error: ErrorCode.NONE }
    if (epoch < state.epoch) return { error: ErrorCode.INVALID_PRODUCER_EPOCH }
    // A duplicate has the first and last sequence of a batch already appended (a retry of it).
    const seen = state.recent.find(
      (b) => b.baseSequence === baseSequence && b.lastSequence === baseSequence + lastOffsetDelta,
    )
    if (seen) return { error: ErrorCode.NONE, duplicateOf: seen.baseOffset }
    if (baseSequence !== state.lastSequence + 1 || lastOffsetDelta < 0) {
      return { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER }
    }
    return { error: ErrorCode.NONE }
  }

  #recordSequence(
    producerId: number,
    epoch: number,
    baseSequence: number,
    lastOffsetDelta: number,
    base: number,
  ): void {
    const state = this.#producers.get(producerId)
    const recent = state && state.epoch === epoch ? state.recent : []
    recent.push({ baseSequence, lastSequence: baseSequence + lastOffsetDelta, baseOffset: base })
    if (recent.length > RECENT_BATCHES) recent.shift()
    this.#producers.set(producerId, { epoch, lastSequence: baseSequence + lastOffsetDelta, recent })
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch, as
   * Kafka does, so a large batch never blocks a consumer); the client skips records before `offset`.
   */
  read(offset: number, maxBytes: number): { error: number; records: Buffer } {
    if (offset < 0 || offset > this.#end) return { error: ErrorCode.OFFSET_OUT_OF_RANGE, records: Buffer.alloc(0) }
    const out: Buffer[] = []
    let size = 0
    let i = this.#firstBatchAt(offset)
    for (; i < this.#batches.length; i++) {
      const b = this.#batches[i] as StoredBatch
      if (out.length > 0 && size + b.bytes.length > maxBytes) break
      out.push(b.bytes)
      size += b.bytes.length
    }
    return { error: ErrorCode.NONE, records: Buffer.concat(out) }
  }

  #firstBatchAt(offset: number): number {
    let lo = 0
    let hi = this.#batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.#batches[mid] as StoredBatch).last < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Offset of the first record at or after `timestamp` (ms); the end offset when none is. */
  offsetForTime(timestamp: number): number {
    for (const b of this.#batches) {
      if (readBatchHeader(b.bytes).maxTimestamp >= timestamp) return b.base
    }
    return this.#end
  }

  /** Calls `wake` on the next append; returns the function that stops watching. */
  watch(wake: () => void): () => void {
    this.#waiters.add(wake)
    return () => this.#waiters.delete(wake)
  }
}

/** Every topic of the broker. */
export class TopicStore {
  readonly #topics = new Map<string, PartitionLog[]>()

  create(name: string, partitions: number): number {
    if (this.#topics.has(name)) return ErrorCode.TOPIC_ALREADY_EXISTS
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(name) || name === '.' || name === '..') return ErrorCode.INVALID_REQUEST
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) return ErrorCode.INVALID_PARTITIONS
    this.#topics.set(
      name,
      Array.from({ length: partitions }, () => new PartitionLog()),
    )
    return ErrorCode.NONE
  }

  topic(name: string): PartitionLog[] | undefined {
    return this.#topics.get(name)
  }

  partition(name: string, index: number): PartitionLog | undefined {
    return this.#topics.get(name)?.[index]
  }

  names(): string[] {
    return [...this.#topics.keys()]
  }
}
