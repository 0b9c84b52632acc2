import { channels } from './channels.ts'
import { anchorEntry, type Entry } from './entry.ts'
import { executeRun, type Occurrence } from './run.ts'
import type { RunTrigger, SchedulerStore } from './store.ts'

/** Settings the loop runs with, resolved once. */
export interface EngineSettings {
  instance: string
  leaseMs: number
  graceMs: number
  pollMs: number
  retentionMs: number
  historyMax: number
}

const MAX_IDLE_MS = 60_000

/**
 * The loop of one scheduler instance: wakes at the next due time (or the next control poll),
 * claims each due occurrence in the store and starts the runs it won. Every instance runs the
 * same loop over the same schedules; the store's atomic claim makes each occurrence run once.
 */
export class Engine {
  readonly entries = new Map<string, Entry>()
  readonly active = new Set<Promise<void>>()
  /** Claims sent and not answered yet: a run one of them starts must be drained by close() too. */
  readonly #claims = new Set<Promise<unknown>>()
  readonly shutdown = new AbortController()
  #timer: ReturnType<typeof setTimeout> | undefined
  #ticking = false
  #again = false
  #stopped = false
  #nextPoll = 0
  #nextMaintenance = 0
  #storeDown = false
  readonly #store: () => Promise<SchedulerStore>
  readonly #s: EngineSettings

  constructor(store: () => Promise<SchedulerStore>, settings: EngineSettings) {
    this.#store = store
    this.#s = settings
  }

  /** Runs a tick soon (after a registration or a control change). */
  kick(pollNow = false): void {
    if (this.#stopped) return
    if (pollNow) this.#nextPoll = 0
    this.#arm(0)
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /**
   * Resolves once no claim is in flight. A claim answered after stop() still starts its run
   * (the store has marked the occurrence running), and that run is in `active` by then, so
   * close() waits for this before it waits for the runs: otherwise the process could exit with
   * the occurrence left running in history and no instance to abandon it.
   */
  async claimsSettled(): Promise<void> {
    while (this.#claims.size > 0) await Promise.allSettled([...this.#claims])
  }

  #arm(delay: number): void {
    if (this.#stopped) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    // A scheduler exists to run jobs later: its timer holds the process until close().
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        void this.#tick()
      },
      Math.max(0, Math.min(delay, MAX_IDLE_MS)),
    )
  }

  async #tick(): Promise<void> {
    if (this.#ticking) {
      this.#again = true
      return
    }
    this.#ticking = true
    let retryMs: number | undefined
    try {
      const store = await this.#store()
      const now = Date.now()
      if (now >= this.#nextPoll) {
        await this.#poll(store, now)
        this.#nextPoll = now + this.#s.pollMs
      }
      await Promise.all([...this.entries.values()].map((entry) => this.#process(store, entry, now)))
      if (now >= this.#nextMaintenance) {
        await this.#maintain(store, now)
        this.#nextMaintenance = now + Math.min(30_000, Math.max(this.#s.pollMs, this.#s.graceMs / 2))
      }
      this.#storeState(store.name, 'restored')
    } catch (error) {
      const store = await this.#store().catch(() => undefined)
      this.#storeState(store?.name ?? 'unknown', 'lost', error)
      retryMs = Math.min(this.#s.pollMs, 1000)
    } finally {
      this.#ticking = false
    }
    if (this.#again) {
      this.#again = false
      this.#arm(0)
      return
    }
    const now = Date.now()
    let wake = Math.min(this.#nextPoll, this.#nextMaintenance)
    for (const entry of this.entries.values()) if (entry.next !== undefined && entry.next < wake) wake = entry.next
    this.#arm(retryMs ?? wake - now)
  }

  #storeState(store: string, state: 'lost' | 'restored', error?: unknown): void {
    if ((state === 'lost') === this.#storeDown) return
    this.#storeDown = state === 'lost'
    if (channels.store.hasSubscribers) channels.store.publish({ store, state, ...(error ? { error } : {}) })
  }

  async #register(store: SchedulerStore, entry: Entry, now: number): Promise<void> {
    const control = await store.register(entry.name, now)
    anchorEntry(entry, control.createdAt)
    entry.paused = control.paused
    // A manual trigger asked for while no instance ran still runs if it is recent.
    entry.lastTriggerSeen =
      control.triggerAt !== undefined && control.triggerAt > now - this.#s.graceMs ? 0 : (control.triggerAt ?? 0)
    const last = await store.lastDue(entry.name)
    entry.cursor = last ?? control.createdAt - 1
    entry.next = entry.timing.next(entry.cursor)
  }

  async #process(store: SchedulerStore, entry: Entry, now: number): Promise<void> {
    if (entry.cursor === undefined) await this.#register(store, entry, now)
    const cursor = entry.cursor as number
    const first = entry.timing.next(cursor)
    if (first === undefined || first > now) {
      entry.next = first
      return
    }
    if (entry.paused) {
      // Paused occurrences are neither run nor missed: the cursor moves past them.
      entry.cursor = now
      entry.next = entry.timing.next(now)
      return
    }
    const lateBefore = now - this.#s.graceMs
    if (first <= lateBefore) await this.#catchUp(store, entry, lateBefore)
    for (let due = entry.timing.next(entry.cursor as number); due !== undefined && due <= now;) {
      await this.#claimAndRun(store, entry, String(due), due, 'scheduled', now)
      entry.cursor = due
      due = entry.timing.next(due)
    }
    entry.next = entry.timing.next(entry.cursor as number)
  }

  /** Occurrences older than the grace period: the missed policy decides (bounded: never an unbounded backlog). */
  async #catchUp(store: SchedulerStore, entry: Entry, lateBefore: number): Promise<void> {
    const cursor = entry.cursor as number
    const keep = entry.missed === 'all' ? entry.maxCatchup : 1
    const late = entry.timing
      .previous(lateBefore, keep)
      .filter((t) => t > cursor)
      .reverse()
    const now = Date.now()
    for (const due of late) {
      if (entry.missed === 'skip') {
        const token = await store.claim({
          schedule: entry.name,
          slot: String(due),
          dueAt: due,
          trigger: 'scheduled',
          instance: this.#s.instance,
          now,
          leaseMs: this.#s.leaseMs,
          outcome: 'missed',
        })
        if (token !== undefined && channels.missed.hasSubscribers) {
          channels.missed.publish({ schedule: entry.name, dueAt: due, policy: entry.missed, action: 'skipped' })
        }
      } else {
        if (channels.missed.hasSubscribers) {
          channels.missed.publish({ schedule: entry.name, dueAt: due, policy: entry.missed, action: 'catchup' })
        }
        await this.#claimAndRun(store, entry, String(due), due, 'catchup', now)
      }
      entry.cursor = due
    }
    entry.cursor = Math.max(entry.cursor as number, lateBefore)
  }

  async #claimAndRun(
    store: SchedulerStore,
    entry: Entry,
    slot: string,
    dueAt: number,
    trigger: RunTrigger,
    now: number,
  ): Promise<void> {
    if (this.shutdown.signal.aborted || this.#stopped) return
    const claim = store.claim({
      schedule: entry.name,
      slot,
      dueAt,
      trigger,
      instance: this.#s.instance,
      now,
      leaseMs: this.#s.leaseMs,
    })
    this.#claims.add(claim)
    let token: number | undefined
    try {
      token = await claim
    } finally {
      this.#claims.delete(claim)
    }
    if (token === undefined) return
    const occurrence: Occurrence = { schedule: entry.name, slot, dueAt, trigger, token }
    const run = this.#start(store, entry, occurrence).finally(() => this.active.delete(run))
    this.active.add(run)
  }

  async #start(store: SchedulerStore, entry: Entry, o: Occurrence): Promise<void> {
    const othersRunning = async (): Promise<boolean> =>
      entry.running > 0 || (store.distributed && (await store.running(entry.name, Date.now(), o.token)) > 0)
    try {
      // Caught-up occurrences queue behind each other whatever the policy: skipping them as
      // overlaps of one another would undo the catch-up.
      const overlap = o.trigger === 'catchup' && entry.overlap === 'skip' ? 'queue' : entry.overlap
      if (overlap === 'skip' && (await othersRunning())) {
        await store.finish(o.schedule, o.slot, o.token, { outcome: 'skipped', endedAt: Date.now(), error: undefined })
        if (channels.skipped.hasSubscribers) {
          channels.skipped.publish({ schedule: o.schedule, dueAt: o.dueAt, reason: 'overlap' })
        }
        return
      }
      if (overlap === 'queue') {
        const previous = entry.chain
        let release!: () => void
        entry.chain = new Promise<void>((resolve) => (release = resolve))
        try {
          await previous
          while (store.distributed && !this.shutdown.signal.aborted && (await othersRunning())) {
            await new Promise((resolve) => setTimeout(resolve, Math.min(this.#s.pollMs, 1000)))
          }
          await this.#execute(store, entry, o)
        } finally {
          release()
        }
        return
      }
      await this.#execute(store, entry, o)
    } catch (error) {
      this.#storeState(store.name, 'lost', error)
    }
  }

  async #execute(store: SchedulerStore, entry: Entry, o: Occurrence): Promise<void> {
    entry.running++
    try {
      await executeRun(o, {
        store,
        instance: this.#s.instance,
        leaseMs: this.#s.leaseMs,
        timeoutMs: entry.timeoutMs,
        jitterMs: entry.jitterMs,
        shutdown: this.shutdown.signal,
        handler: entry.handler,
        onStoreError: (error) => this.#storeState(store.name, 'lost', error),
      })
    } finally {
      entry.running--
    }
  }

  /** Applies pause/resume/trigger/remove requests made from any instance. */
  async #poll(store: SchedulerStore, now: number): Promise<void> {
    if (this.entries.size === 0) return
    const controls = await store.controls()
    for (const entry of [...this.entries.values()]) {
      const c = controls.get(entry.name)
      if (!c || entry.cursor === undefined) continue
      if (c.removed) {
        this.entries.delete(entry.name)
        continue
      }
      entry.paused = c.paused
      if (c.triggerAt !== undefined && c.triggerAt > entry.lastTriggerSeen) {
        entry.lastTriggerSeen = c.triggerAt
        await this.#claimAndRun(store, entry, `manual:${c.triggerAt}`, c.triggerAt, 'manual', now)
      }
    }
  }

  /** Abandoned leases, retention, and the dead man's switch. */
  async #maintain(store: SchedulerStore, now: number): Promise<void> {
    await store.sweep(now)
    for (const entry of this.entries.values()) {
      await store.prune(entry.name, now - this.#s.retentionMs, this.#s.historyMax)
      if (entry.paused || entry.anchorAt === undefined) continue
      const expected = entry.timing.previous(now - this.#s.graceMs, 1)[0]
      if (expected === undefined || expected < entry.anchorAt || expected <= entry.overdueReported) continue
      const [last] = await store.history(entry.name, { limit: 1 })
      if (last && last.dueAt >= expected && last.outcome !== 'missed') continue
      entry.overdueReported = expected
      if (channels.overdue.hasSubscribers) {
        channels.overdue.publish({ schedule: entry.name, dueAt: expected, lateMs: now - expected })
      }
    }
  }
}
