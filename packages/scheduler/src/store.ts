import type { DriverDefinitionBase } from '@beaver-kit/core'

/** Why a run started: its due time came, it was missed and caught up, or someone asked for it. */
export type RunTrigger = 'scheduled' | 'catchup' | 'manual'

/** How a run ended; `running` until it does. `missed` rows record an occurrence nobody ran. */
export type RunOutcome =
  'running' | 'succeeded' | 'failed' | 'timeout' | 'skipped' | 'abandoned' | 'missed' | 'cancelled'

/** One row of run history, as every store keeps it. */
export interface RunRecord {
  schedule: string
  /** The occurrence key: its due time in ms, or `manual:<ms>` for a manual trigger. */
  slot: string
  /** When the occurrence was due (ms since epoch). */
  dueAt: number
  trigger: RunTrigger
  /** The instance that claimed it (`createScheduler({ instance })`, default host:pid:random). */
  instance: string
  /** The fencing token: strictly greater than every earlier claim's of the same store. */
  token: number
  startedAt: number
  endedAt: number | undefined
  durationMs: number | undefined
  outcome: RunOutcome
  error: string | undefined
}

/** A claim request: the facade's (schedule, slot) and who asks. */
export interface ClaimRequest {
  schedule: string
  slot: string
  dueAt: number
  trigger: RunTrigger
  instance: string
  now: number
  leaseMs: number
  /** Record the slot as already ended with this outcome (missed, skipped) instead of running. */
  outcome?: RunOutcome | undefined
}

/** Pause/resume/trigger/remove state of one schedule, shared by every instance through the store. */
export interface ScheduleControl {
  paused: boolean
  /** The latest manual trigger request (ms), if any. */
  triggerAt: number | undefined
  removed: boolean
  /** When the schedule was first registered in this store (the anchor of `every(..., { anchor: 'start' })`). */
  createdAt: number
}

/** A patch of a schedule's control state. */
export interface ControlPatch {
  paused?: boolean
  triggerAt?: number
  removed?: boolean
}

/** The end of a run, as the facade reports it. */
export interface RunEnd {
  outcome: Exclude<RunOutcome, 'running'>
  endedAt: number
  error: string | undefined
}

/**
 * The contract of a scheduler store: a few primitives over (namespace, schedule, slot). The
 * facade computes occurrences, applies missed/overlap policies, runs handlers and publishes
 * events, so a store stays short. `claim` must be atomic: of N concurrent claims of one
 * (schedule, slot), exactly one resolves a token.
 */
export interface SchedulerStore {
  readonly name: string
  /** False for a store only this process sees (memory): runs are once per process, not per fleet. */
  readonly distributed: boolean
  /** Creates the schedule's control row if missing (clearing `removed`); resolves its state. */
  register(schedule: string, now: number): Promise<ScheduleControl>
  /** Takes the slot; resolves the fencing token, or undefined when another claim has it. */
  claim(request: ClaimRequest): Promise<number | undefined>
  /** Extends a running claim's lease; false when it is no longer ours (ended, abandoned). */
  renew(schedule: string, slot: string, token: number, until: number): Promise<boolean>
  /** Records the end of a run (a stale token is ignored). */
  finish(schedule: string, slot: string, token: number, end: RunEnd): Promise<void>
  /** Runs of the schedule still running under a live lease, other than `token`. */
  running(schedule: string, now: number, exceptToken: number): Promise<number>
  /** Due time of the latest scheduled or caught-up slot claimed (manual triggers excluded). */
  lastDue(schedule: string): Promise<number | undefined>
  /** Latest runs first (by due time, then start). */
  history(schedule: string, options: { limit: number; outcome?: RunOutcome | undefined }): Promise<RunRecord[]>
  /** Every schedule's control state. */
  controls(): Promise<Map<string, ScheduleControl>>
  control(schedule: string, patch: ControlPatch, now: number): Promise<void>
  /** Marks running rows whose lease ended before `now` as abandoned; resolves how many. */
  sweep(now: number): Promise<number>
  /** Deletes history due before `before` (never the latest row) and past `keep` rows per schedule; resolves how many. */
  prune(schedule: string, before: number, keep: number): Promise<number>
  /** Round trip; throws when the store is unreachable. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** What a store's `create` receives besides its options. */
export interface SchedulerStoreContext {
  /** The namespace every key and row is scoped by. */
  namespace: string
}

/** A store definition: its name, the optional peers it loads, how to build it. */
export interface SchedulerStoreDefinition<Options = unknown> extends DriverDefinitionBase {
  /** The config section its options come from (`db`, `redis`), as data. */
  readonly section?: string
  create(options: Options, context: SchedulerStoreContext): SchedulerStore | Promise<SchedulerStore>
}

/**
 * Declares a store (built-in or third party), typed, so the registry can read its name and
 * peers without building anything.
 * @example export const myStore = defineSchedulerStore({ name: 'etcd', peers: ['etcd3'], create })
 */
export function defineSchedulerStore<Options>(
  definition: SchedulerStoreDefinition<Options>,
): SchedulerStoreDefinition<Options> {
  return Object.freeze({ ...definition })
}
