import {
  defineSchedulerStore,
  type ClaimRequest,
  type ControlPatch,
  type RunEnd,
  type RunOutcome,
  type RunRecord,
  type ScheduleControl,
  type SchedulerStore,
} from '../store.ts'

interface MemoryRun extends RunRecord {
  leaseUntil: number
}

/**
 * This process only: claims, history and controls in a Map. Several schedulers in one process
 * sharing one store run each occurrence once; several processes each run it (use a database or
 * Redis store for a fleet). The default.
 */
export class MemoryStore implements SchedulerStore {
  readonly name = 'memory'
  readonly distributed = false
  readonly #runs = new Map<string, Map<string, MemoryRun>>()
  readonly #controls = new Map<string, ScheduleControl>()
  #token = 0

  #of(schedule: string): Map<string, MemoryRun> {
    let runs = this.#runs.get(schedule)
    if (!runs) this.#runs.set(schedule, (runs = new Map()))
    return runs
  }

  async register(schedule: string, now: number): Promise<ScheduleControl> {
    const found = this.#controls.get(schedule)
    if (found) {
      found.removed = false
      return { ...found }
    }
    const control: ScheduleControl = { paused: false, triggerAt: undefined, removed: false, createdAt: now }
    this.#controls.set(schedule, control)
    return { ...control }
  }

  async claim(r: ClaimRequest): Promise<number | undefined> {
    const runs = this.#of(r.schedule)
    if (runs.has(r.slot)) return undefined
    const token = ++this.#token
    const ended = r.outcome !== undefined && r.outcome !== 'running'
    runs.set(r.slot, {
      schedule: r.schedule,
      slot: r.slot,
      dueAt: r.dueAt,
      trigger: r.trigger,
      instance: r.instance,
      token,
      startedAt: r.now,
      endedAt: ended ? r.now : undefined,
      durationMs: ended ? 0 : undefined,
      outcome: r.outcome ?? 'running',
      error: undefined,
      leaseUntil: r.now + r.leaseMs,
    })
    return token
  }

  async renew(schedule: string, slot: string, token: number, until: number): Promise<boolean> {
    const run = this.#runs.get(schedule)?.get(slot)
    if (!run || run.token !== token || run.outcome !== 'running') return false
    run.leaseUntil = until
    return true
  }

  async finish(schedule: string, slot: string, token: number, end: RunEnd): Promise<void> {
    const run = this.#runs.get(schedule)?.get(slot)
    if (!run || run.token !== token || run.outcome !== 'running') return
    run.outcome = end.outcome
    run.endedAt = end.endedAt
    run.durationMs = Math.max(0, end.endedAt - run.startedAt)
    run.error = end.error
  }

  async running(schedule: string, now: number, exceptToken: number): Promise<number> {
    let n = 0
    for (const run of this.#of(schedule).values()) {
      if (run.outcome === 'running' && run.leaseUntil > now && run.token !== exceptToken) n++
    }
    return n
  }

  async lastDue(schedule: string): Promise<number | undefined> {
    let last: number | undefined
    for (const run of this.#of(schedule).values()) {
      if (run.trigger !== 'manual' && (last === undefined || run.dueAt > last)) last = run.dueAt
    }
    return last
  }

  async history(schedule: string, options: { limit: number; outcome?: RunOutcome | undefined }): Promise<RunRecord[]> {
    return [...this.#of(schedule).values()]
      .filter((run) => options.outcome === undefined || run.outcome === options.outcome)
      .sort((a, b) => b.dueAt - a.dueAt || b.startedAt - a.startedAt || b.token - a.token)
      .slice(0, options.limit)
      .map(({ leaseUntil: _lease, ...record }) => record)
  }

  async controls(): Promise<Map<string, ScheduleControl>> {
    return new Map([...this.#controls].map(([name, c]) => [name, { ...c }]))
  }

  async control(schedule: string, patch: ControlPatch, now: number): Promise<void> {
    const control = this.#controls.get(schedule) ?? {
      paused: false,
      triggerAt: undefined,
      removed: false,
      createdAt: now,
    }
    if (patch.paused !== undefined) control.paused = patch.paused
    if (patch.triggerAt !== undefined) control.triggerAt = patch.triggerAt
    if (patch.removed !== undefined) control.removed = patch.removed
    this.#controls.set(schedule, control)
  }

  async sweep(now: number): Promise<number> {
    let n = 0
    for (const runs of this.#runs.values()) {
      for (const run of runs.values()) {
        if (run.outcome === 'running' && run.leaseUntil <= now) {
          run.outcome = 'abandoned'
          run.endedAt = run.leaseUntil
          run.durationMs = Math.max(0, run.leaseUntil - run.startedAt)
          n++
        }
      }
    }
    return n
  }

  async prune(schedule: string, before: number, keep: number): Promise<number> {
    const runs = this.#of(schedule)
    const kept = [...runs.values()].sort((a, b) => b.dueAt - a.dueAt || b.startedAt - a.startedAt)
    let n = 0
    kept.forEach((run, i) => {
      if (run.outcome === 'running') return
      // The latest row stays whatever its age: it is the cursor that missed-run detection reads.
      if (i >= keep || (i > 0 && run.dueAt < before)) {
        runs.delete(run.slot)
        n++
      }
    })
    return n
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * The in-process store: each process runs every occurrence (it says so in describe()).
 * @example createScheduler({ store: memoryStore })
 */
export const memoryStore = defineSchedulerStore<Record<string, never> | undefined>({
  name: 'memory',
  create: () => new MemoryStore(),
})
