import { randomUUID } from 'node:crypto'
import {
  defineQueueDriver,
  type Delivery,
  type DriverMessage,
  type Failure,
  type FetchOptions,
  type QueueCounts,
  type QueueDriver,
  type QueueDriverContext,
  type RenewResult,
  type StoredMessage,
} from '../driver.ts'
import { Heap } from '../heap.ts'
import { publishGroupCopies } from './fan-out.ts'

/** Options of the memory driver. */
export interface MemoryQueueOptions {
  /** Shares one store between several queue instances of a process (two "processes" in tests). */
  store?: MemoryQueueStore
}

interface Entry {
  msg: DriverMessage
  seq: number
  state: 'waiting' | 'active' | 'completed' | 'dead' | 'cancelled'
  attempt: number
  token: string
  leaseUntil: number
  lastError: string | undefined
  deadReason: string | undefined
  finishedAt: number | undefined
  progress: string | undefined
  cancelRequested: boolean
  /** Bumped on every state change, so stale heap slots are skipped. */
  version: number
}

interface Slot {
  entry: Entry
  version: number
}

class MemoryQueueState {
  readonly all = new Map<string, Entry>()
  readonly ready = new Heap<Slot>((a, b) => readyBefore(a.entry, b.entry))
  readonly delayed = new Heap<Slot>(
    (a, b) =>
      a.entry.msg.runAt < b.entry.msg.runAt || (a.entry.msg.runAt === b.entry.msg.runAt && a.entry.seq < b.entry.seq),
  )
  readonly active = new Map<string, Entry>()
  readonly dedupe = new Map<string, string>()
  /** Finished (completed/cancelled) ids in finishing order, for retention. */
  readonly finished: Entry[] = []
  readonly dead = new Map<string, Entry>()
  readonly waiters = new Set<() => void>()
}

function readyBefore(a: Entry, b: Entry): boolean {
  if (a.msg.priority !== b.msg.priority) return a.msg.priority > b.msg.priority
  if (a.msg.runAt !== b.msg.runAt) return a.msg.runAt < b.msg.runAt
  return a.seq < b.seq
}

/**
 * The memory driver's data: one per process by default; pass the same store to several
 * instances to make them behave like processes sharing a backend.
 */
export class MemoryQueueStore {
  readonly queues = new Map<string, MemoryQueueState>()
  /** Topic (full name) to the group queues subscribed to it. */
  readonly topics = new Map<string, Set<string>>()
  seq = 0

  state(queue: string): MemoryQueueState {
    let s = this.queues.get(queue)
    if (!s) {
      s = new MemoryQueueState()
      this.queues.set(queue, s)
    }
    return s
  }
}

/** Creates a store to share between memory-driven queue instances. */
export function createMemoryQueueStore(): MemoryQueueStore {
  return new MemoryQueueStore()
}

class MemoryDriver implements QueueDriver {
  readonly name = 'memory'
  readonly capabilities = Object.freeze({
    delay: true,
    priority: true,
    dedupe: true,
    cancel: true,
    fairness: true,
    transactional: false,
    extendLease: true,
    durable: false,
    history: true,
    fanOut: true,
  })
  readonly #store: MemoryQueueStore
  readonly #ctx: QueueDriverContext

  constructor(options: MemoryQueueOptions, ctx: QueueDriverContext) {
    this.#store = options.store ?? new MemoryQueueStore()
    this.#ctx = ctx
  }

  #schedule(s: MemoryQueueState, e: Entry): void {
    e.version++
    e.state = 'waiting'
    const slot = { entry: e, version: e.version }
    if (e.msg.runAt > this.#ctx.now()) s.delayed.push(slot)
    else s.ready.push(slot)
    for (const wake of s.waiters) wake()
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    const ids: string[] = []
    for (const msg of messages) {
      const s = this.#store.state(msg.queue)
      const existing = s.all.get(msg.id)
      if (existing) {
        ids.push(existing.msg.id)
        continue
      }
      if (msg.dedupeKey !== undefined) {
        const first = s.dedupe.get(msg.dedupeKey)
        if (first !== undefined) {
          ids.push(first)
          continue
        }
        s.dedupe.set(msg.dedupeKey, msg.id)
      }
      const e: Entry = {
        msg: { ...msg, headers: { ...msg.headers } },
        seq: ++this.#store.seq,
        state: 'waiting',
        attempt: 0,
        token: '',
        leaseUntil: 0,
        lastError: undefined,
        deadReason: undefined,
        finishedAt: undefined,
        progress: undefined,
        cancelRequested: false,
        version: 0,
      }
      s.all.set(msg.id, e)
      this.#schedule(s, e)
      ids.push(msg.id)
    }
    return ids
  }

  async subscribe(topic: string, queue: string): Promise<void> {
    let groups = this.#store.topics.get(topic)
    if (!groups) this.#store.topics.set(topic, (groups = new Set()))
    groups.add(queue)
  }

  publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    const groups = [...(this.#store.topics.get(topic) ?? [])]
    return publishGroupCopies(groups, messages, {}, (copies) => this.enqueue(copies))
  }

  #maintain(s: MemoryQueueState): void {
    const now = this.#ctx.now()
    for (const e of s.active.values()) {
      if (e.leaseUntil <= now) {
        s.active.delete(e.msg.id)
        this.#schedule(s, e)
      }
    }
    for (let top = s.delayed.peek(); top && top.entry.msg.runAt <= now; top = s.delayed.peek()) {
      s.delayed.pop()
      if (top.version === top.entry.version && top.entry.state === 'waiting') s.ready.push(top)
    }
    const keepUntil = now - this.#ctx.settings.keepCompletedMs
    const max = this.#ctx.settings.keepCompletedMax
    while (s.finished.length > 0 && ((s.finished[0]?.finishedAt ?? 0) <= keepUntil || s.finished.length > max)) {
      const e = s.finished.shift() as Entry
      if (e.state === 'completed' || e.state === 'cancelled') s.all.delete(e.msg.id)
    }
    const deadUntil = now - this.#ctx.settings.keepDeadMs
    for (const e of s.dead.values()) {
      if ((e.finishedAt ?? 0) > deadUntil) break
      s.dead.delete(e.msg.id)
      s.all.delete(e.msg.id)
    }
  }

  #take(s: MemoryQueueState, options: FetchOptions): Delivery[] {
    const now = this.#ctx.now()
    const picked: Entry[] = []
    if (options.groupLimit === undefined) {
      while (picked.length < options.max) {
        const slot = s.ready.pop()
        if (!slot) break
        if (slot.version !== slot.entry.version || slot.entry.state !== 'waiting') continue
        picked.push(slot.entry)
      }
    } else {
      picked.push(...this.#takeFair(s, options.max, options.groupLimit))
    }
    return picked.map((e) => {
      e.version++
      e.state = 'active'
      e.attempt++
      e.token = randomUUID()
      e.leaseUntil = now + options.leaseMs
      s.active.set(e.msg.id, e)
      return toDelivery(e)
    })
  }

  // Round-robin between groups: the first ready message of every group under its limit, then
  // the second, and so on; a group already at its limit (counting every consumer) waits.
  #takeFair(s: MemoryQueueState, max: number, limit: number): Entry[] {
    const slots: Slot[] = []
    for (let slot = s.ready.pop(); slot; slot = s.ready.pop()) {
      if (slot.version === slot.entry.version && slot.entry.state === 'waiting') slots.push(slot)
    }
    const inFlight = new Map<string, number>()
    for (const e of s.active.values()) {
      const g = e.msg.group ?? ''
      inFlight.set(g, (inFlight.get(g) ?? 0) + 1)
    }
    const rank = new Map<string, number>()
    const ranked = slots.map((slot) => {
      const g = slot.entry.msg.group ?? ''
      const r = (rank.get(g) ?? 0) + 1
      rank.set(g, r)
      return { slot, g, r }
    })
    ranked.sort((a, b) => a.r - b.r || (readyBefore(a.slot.entry, b.slot.entry) ? -1 : 1))
    const picked: Entry[] = []
    for (const { slot, g } of ranked) {
      const busy = inFlight.get(g) ?? 0
      if (picked.length < max && (g === '' || busy < limit)) {
        inFlight.set(g, busy + 1)
        picked.push(slot.entry)
      } else {
        s.ready.push(slot)
      }
    }
    return picked
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const s = this.#store.state(queue)
    this.#maintain(s)
    const got = this.#take(s, options)
    if (got.length > 0 || options.waitMs <= 0 || options.signal.aborted) return got
    await new Promise<void>((resolve) => {
      const next = s.delayed.peek()
      const dueIn = next ? Math.max(1, next.entry.msg.runAt - this.#ctx.now()) : Infinity
      const done = (): void => {
        clearTimeout(timer)
        s.waiters.delete(done)
        options.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.min(options.waitMs, dueIn))
      s.waiters.add(done)
      options.signal.addEventListener('abort', done, { once: true })
    })
    if (options.signal.aborted) return []
    this.#maintain(s)
    return this.#take(s, options)
  }

  #held(s: MemoryQueueState, d: Delivery): Entry | undefined {
    const e = s.active.get(d.id)
    return e && e.token === d.token && e.state === 'active' ? e : undefined
  }

  #finish(s: MemoryQueueState, e: Entry, state: 'completed' | 'cancelled' | 'dead'): void {
    e.version++
    e.state = state
    e.finishedAt = this.#ctx.now()
    s.active.delete(e.msg.id)
    if (e.msg.dedupeKey !== undefined && s.dedupe.get(e.msg.dedupeKey) === e.msg.id) s.dedupe.delete(e.msg.dedupeKey)
    if (state === 'dead') s.dead.set(e.msg.id, e)
    else s.finished.push(e)
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const s = this.#store.state(queue)
    for (const d of deliveries) {
      const e = this.#held(s, d)
      if (e) this.#finish(s, e, 'completed')
    }
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const s = this.#store.state(queue)
    const e = this.#held(s, d)
    if (!e) return
    e.lastError = failure.error
    if (failure.kind === 'cancelled') {
      this.#finish(s, e, 'cancelled')
      return
    }
    if (failure.kind === 'dead') {
      e.deadReason = failure.reason
      this.#finish(s, e, 'dead')
      return
    }
    s.active.delete(e.msg.id)
    e.msg.runAt = failure.runAt
    this.#schedule(s, e)
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const s = this.#store.state(queue)
    for (const d of deliveries) {
      const e = this.#held(s, d)
      if (!e) continue
      s.active.delete(e.msg.id)
      e.attempt = Math.max(0, e.attempt - 1)
      this.#schedule(s, e)
    }
  }

  async renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const s = this.#store.state(queue)
    const result: RenewResult = { cancelled: [], lost: [] }
    const until = this.#ctx.now() + leaseMs
    for (const d of deliveries) {
      const e = this.#held(s, d)
      if (!e) {
        result.lost.push(d.id)
        continue
      }
      e.leaseUntil = until
      if (e.cancelRequested) result.cancelled.push(d.id)
    }
    return result
  }

  async cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'> {
    const s = this.#store.state(queue)
    const e = s.all.get(id)
    if (!e) return 'none'
    if (e.state === 'waiting') {
      this.#finish(s, e, 'cancelled')
      return 'removed'
    }
    if (e.state === 'active') {
      e.cancelRequested = true
      return 'signalled'
    }
    return 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    const s = this.#store.state(queue)
    this.#maintain(s)
    const now = this.#ctx.now()
    const counts: QueueCounts = {
      waiting: 0,
      active: s.active.size,
      delayed: 0,
      completed: 0,
      failed: 0,
      dead: s.dead.size,
    }
    for (const e of s.all.values()) {
      if (e.state === 'completed') counts.completed++
      else if (e.state === 'waiting') {
        if (e.msg.runAt > now) counts.delayed++
        else counts.waiting++
        if (e.lastError !== undefined) counts.failed++
      }
    }
    return counts
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    const e = this.#store.state(queue).all.get(id)
    return e ? toStored(e, this.#ctx.now()) : undefined
  }

  async progress(queue: string, d: Delivery, value: string): Promise<void> {
    const e = this.#held(this.#store.state(queue), d)
    if (e) e.progress = value
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const s = this.#store.state(queue)
    const now = this.#ctx.now()
    return [...s.dead.values()]
      .reverse()
      .slice(options.offset, options.offset + options.limit)
      .map((e) => toStored(e, now))
  }

  #pickDead(s: MemoryQueueState, ids: readonly string[] | 'all'): Entry[] {
    if (ids === 'all') return [...s.dead.values()]
    return ids.map((id) => s.dead.get(id)).filter((e): e is Entry => e !== undefined)
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const s = this.#store.state(queue)
    const picked = this.#pickDead(s, ids)
    for (const e of picked) {
      s.dead.delete(e.msg.id)
      e.attempt = 0
      e.deadReason = undefined
      e.finishedAt = undefined
      e.cancelRequested = false
      e.msg.runAt = this.#ctx.now()
      this.#schedule(s, e)
    }
    return picked.length
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const s = this.#store.state(queue)
    const picked = this.#pickDead(s, ids)
    for (const e of picked) {
      s.dead.delete(e.msg.id)
      s.all.delete(e.msg.id)
    }
    return picked.length
  }

  async queues(): Promise<string[]> {
    return [...this.#store.queues.keys()]
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    for (const s of this.#store.queues.values()) for (const wake of s.waiters) wake()
  }
}

function toDelivery(e: Entry): Delivery {
  return {
    ...e.msg,
    headers: { ...e.msg.headers },
    attempt: e.attempt,
    token: e.token,
    lastError: e.lastError,
    leaseUntil: e.leaseUntil,
  }
}

function toStored(e: Entry, now: number): StoredMessage {
  const state = e.state === 'waiting' && e.msg.runAt > now ? 'delayed' : e.state
  return {
    ...e.msg,
    headers: { ...e.msg.headers },
    state,
    attempt: e.attempt,
    lastError: e.lastError,
    deadReason: e.deadReason,
    finishedAt: e.finishedAt,
    progress: e.progress,
  }
}

/**
 * The in-process driver: the whole contract (delays on the injected clock, leases, DLQ,
 * dedupe, cancel, fairness) without a server, for tests and development. Not durable.
 * @example const q = createQueue({ driver: memoryDriver })
 */
export const memoryDriver = defineQueueDriver<MemoryQueueOptions>({
  name: 'memory',
  peers: [],
  section: 'memory',
  create: (options, ctx) => new MemoryDriver(options ?? {}, ctx),
})
