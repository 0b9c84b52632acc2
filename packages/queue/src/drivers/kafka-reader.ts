import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs'
import { QueueError } from '../errors.ts'
import { ENVELOPE_HEADER, decodeEnvelope, foreignEnvelope, type BrokerEnvelope } from './broker-message.ts'
import { kafkaError, type KafkaLink } from './kafka-link.ts'
import type { KafkaQueueNames } from './kafka-options.ts'

/** A record the reader received: where it came from, and its envelope. */
export interface Held {
  token: string
  topic: string
  partition: number
  offset: number
  envelope: BrokerEnvelope
  payload: string
}

/** Per topic-partition: offsets received and not settled, and the next offset after the last received. */
interface Track {
  pending: Set<number>
  next: number | undefined
  committed: number
}

let readers = 0

/**
 * The consumer of one queue in one process: a kafkajs consumer in the queue's group over its
 * main and delay topics, feeding a local buffer the driver's fetch takes from. Offsets are
 * committed only up to the first record not yet settled (acknowledged, retried elsewhere or
 * dead-lettered), so a crash redelivers what was not handled: at least once. Records of the
 * delay topic wait in memory until due (uncommitted, so a crash redelivers them too).
 */
export class KafkaReader {
  readonly #link: KafkaLink
  readonly #names: KafkaQueueNames
  readonly #queue: string
  readonly #now: () => number
  readonly #limit: number
  readonly #id = ++readers
  readonly #tracks = new Map<string, Track>()
  readonly #ready: Held[] = []
  readonly #delayed: Held[] = []
  readonly #active = new Map<string, Held>()
  readonly #wakers = new Set<() => void>()
  #delayTimer: ReturnType<typeof setTimeout> | undefined
  #consumer: Consumer | undefined
  #failed: unknown
  #stopping = false
  #stopped: Promise<void> | undefined
  #commits = Promise.resolve()

  constructor(link: KafkaLink, queue: string, names: KafkaQueueNames, now: () => number, limit: number) {
    this.#link = link
    this.#queue = queue
    this.#names = names
    this.#now = now
    this.#limit = limit
  }

  get stopping(): boolean {
    return this.#stopping
  }

  /** Resolves once the consumer stopped (after stop() and the last active record settled). */
  get stopped(): Promise<void> | undefined {
    return this.#stopped
  }

  async start(): Promise<void> {
    const consumer = await this.#link.consumer(this.#names.group, 500)
    this.#consumer = consumer
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.#assigned(e.payload.memberAssignment))
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) {
        this.#failed = e.payload.error
        this.#wake()
      }
    })
    try {
      await consumer.connect()
      const { topic, delay, fanOut } = this.#names
      // A group queue's topic offsets were committed when it subscribed, so fromBeginning is for its own topics.
      const topics = [topic, delay, ...(fanOut ? [fanOut.topic, fanOut.delay] : [])]
      await consumer.subscribe({ topics, fromBeginning: true })
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.#batch(p) })
    } catch (error) {
      await consumer.disconnect().catch(() => undefined)
      throw kafkaError(error, `consume queue "${this.#queue}"`)
    }
  }

  async #batch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const live = () => isRunning() && !isStale() && !this.#stopping
    for (const m of batch.messages) {
      if (!live()) return
      this.#receive(batch.topic, batch.partition, m)
      resolveOffset(m.offset)
    }
    // Back-pressure: no further fetch while the handlers have this much ready; the heartbeat keeps the membership.
    while (this.#ready.length >= this.#limit && live()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000)
        function done(): void {
          clearTimeout(timer)
          resolve()
        }
        this.#wakers.add(done)
      })
      await heartbeat()
    }
  }

  #track(topic: string, partition: number): Track {
    const key = `${topic}/${partition}`
    let t = this.#tracks.get(key)
    if (!t) {
      t = { pending: new Set(), next: undefined, committed: -1 }
      this.#tracks.set(key, t)
    }
    return t
  }

  #receive(topic: string, partition: number, m: KafkaMessage): void {
    const offset = Number(m.offset)
    const token = `${this.#id}/${topic}/${partition}/${offset}`
    const track = this.#track(topic, partition)
    track.next = Math.max(track.next ?? 0, offset + 1)
    // Fetched again after a rebalance while its handler still runs here: one delivery is enough.
    if (this.#active.has(token)) return
    track.pending.add(offset)
    const header = m.headers?.[ENVELOPE_HEADER]
    const decoded = decodeEnvelope(Buffer.isBuffer(header) ? header.toString('utf8') : header)
    // A topic's message names the topic: from here on it is this group queue's (retries, DLQ).
    const envelope = decoded
      ? { ...decoded, queue: this.#queue }
      : foreignEnvelope(`${topic}-${partition}-${offset}`, this.#queue, this.#now())
    const held: Held = { token, topic, partition, offset, envelope, payload: m.value?.toString('utf8') ?? '' }
    if (envelope.runAt > this.#now()) {
      this.#delayed.push(held)
      this.#scheduleDelayed()
    } else {
      this.#ready.push(held)
      this.#wake()
    }
  }

  #scheduleDelayed(): void {
    clearTimeout(this.#delayTimer)
    if (this.#delayed.length === 0) return
    const next = Math.min(...this.#delayed.map((h) => h.envelope.runAt))
    this.#delayTimer = setTimeout(() => this.#promoteDue(), Math.max(0, next - this.#now()))
    this.#delayTimer.unref()
  }

  #promoteDue(): void {
    const now = this.#now()
    for (let i = this.#delayed.length - 1; i >= 0; i--) {
      const h = this.#delayed[i] as Held
      if (h.envelope.runAt <= now) {
        this.#delayed.splice(i, 1)
        this.#ready.push(h)
      }
    }
    this.#ready.sort((a, b) => a.envelope.runAt - b.envelope.runAt)
    this.#scheduleDelayed()
    this.#wake()
  }

  /** A new assignment: kafkajs fetches again from the committed offsets, so what was buffered goes. */
  #assigned(assignment: Record<string, number[]>): void {
    this.#ready.length = 0
    this.#delayed.length = 0
    this.#scheduleDelayed()
    const owned = new Set(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((p) => `${topic}/${p}`)))
    for (const [key, track] of this.#tracks) {
      if (!owned.has(key)) this.#tracks.delete(key)
      else {
        // kafkajs starts again from what the broker has committed, which may be less than this
        // reader committed last (a commit refused during the rebalance): commit again from there.
        track.committed = -1
        track.pending = new Set(
          [...this.#active.values()].filter((h) => `${h.topic}/${h.partition}` === key).map((h) => h.offset),
        )
        track.next = undefined
      }
    }
  }

  #wake(): void {
    const wakers = [...this.#wakers]
    this.#wakers.clear()
    for (const w of wakers) w()
  }

  /** Hands out up to `max` ready records, waiting up to `waitMs` for one. */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<Held[]> {
    if (this.#ready.length === 0 && waitMs > 0 && !signal.aborted && !this.#stopping && this.#failed === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs)
        const wakers = this.#wakers
        function done(): void {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          wakers.delete(done)
          resolve()
        }
        signal.addEventListener('abort', done)
        wakers.add(done)
      })
    }
    if (this.#failed !== undefined) throw kafkaError(this.#failed, `consume queue "${this.#queue}"`)
    if (this.#stopping || signal.aborted) return []
    const out = this.#ready.splice(0, max)
    for (const h of out) this.#active.set(h.token, h)
    return out
  }

  held(token: string): Held | undefined {
    return this.#active.get(token)
  }

  activeHeld(): Held[] {
    return [...this.#active.values()]
  }

  /** Whether a record is still this reader's to settle (its partition was not reassigned). */
  owns(token: string): boolean {
    const h = this.#active.get(token)
    return h !== undefined && this.#tracks.has(`${h.topic}/${h.partition}`)
  }

  /** Settles records (handled, or copied to the delay or dead topic) and commits what became contiguous. */
  async settle(tokens: readonly string[]): Promise<void> {
    const touched = new Map<Track, { topic: string; partition: number }>()
    for (const token of tokens) {
      const h = this.#active.get(token)
      if (!h) continue
      this.#active.delete(token)
      const track = this.#tracks.get(`${h.topic}/${h.partition}`)
      if (!track) continue
      track.pending.delete(h.offset)
      touched.set(track, { topic: h.topic, partition: h.partition })
    }
    // Only once every token is out of pending: the commit point is the first offset still pending.
    const commits: Array<{ topic: string; partition: number; offset: string }> = []
    for (const [track, where] of touched) {
      const point = track.pending.size > 0 ? Math.min(...track.pending) : track.next
      if (point !== undefined && point > track.committed) {
        track.committed = point
        commits.push({ ...where, offset: String(point) })
      }
    }
    if (commits.length > 0) await this.#commit(commits)
    this.#maybeFinish()
  }

  /** Gives records back: to the front of the buffer, or (stopping) left uncommitted for the next member of the group. */
  release(tokens: readonly string[]): void {
    const back: Held[] = []
    for (const token of tokens) {
      const h = this.#active.get(token)
      if (!h) continue
      this.#active.delete(token)
      if (!this.#stopping) back.push(h)
    }
    this.#ready.unshift(...back)
    if (back.length > 0) this.#wake()
    this.#maybeFinish()
  }

  #commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    const consumer = this.#consumer
    const run = this.#commits.then(async () => {
      if (!consumer) return
      try {
        await consumer.commitOffsets(offsets)
      } catch (error) {
        // Not committed: the next settle of these partitions tries again from what is settled.
        for (const o of offsets) {
          const track = this.#tracks.get(`${o.topic}/${o.partition}`)
          if (track) track.committed = -1
        }
        // A rebalance took the partition or is under way: the owner after it starts from the last
        // commit and redelivers what this one could not commit (at least once). Anything else
        // reaches the caller.
        const e = error as { type?: string; message?: string }
        if (
          !/REBALANCE_IN_PROGRESS|ILLEGAL_GENERATION|UNKNOWN_MEMBER_ID|NOT_COORDINATOR|rebalancing/.test(
            `${e.type} ${e.message}`,
          )
        ) {
          throw kafkaError(error, `commit offsets of queue "${this.#queue}"`)
        }
      }
    })
    this.#commits = run.catch(() => undefined)
    return run
  }

  /** Stops taking records: buffered ones are left to the group; the consumer leaves once the active ones settle. */
  stop(): Promise<void> {
    this.#stopping = true
    this.#ready.length = 0
    this.#delayed.length = 0
    this.#scheduleDelayed()
    this.#wake()
    let finish!: () => void
    this.#stopped ??= new Promise<void>((resolve) => (finish = resolve)).then(() => this.#disconnect())
    this.#finish ??= finish
    this.#maybeFinish()
    return this.#stopped
  }

  #finish: (() => void) | undefined

  #maybeFinish(): void {
    if (this.#stopping && this.#active.size === 0) this.#finish?.()
  }

  /** Stops at once, whatever is active (the driver is closing). */
  async kill(): Promise<void> {
    this.#active.clear()
    await this.stop()
  }

  async #disconnect(): Promise<void> {
    await this.#commits
    await this.#consumer?.disconnect().catch((error: unknown) => {
      throw error instanceof QueueError ? error : kafkaError(error, `leave the group of queue "${this.#queue}"`)
    })
  }
}
