import { toMs, type Duration } from '@beaver-kit/config'
import { SchedulerError } from './errors.ts'
import type { ScheduleHandler } from './run.ts'
import { buildTiming, checkTimezone, type ScheduleSpec, type Timing } from './timing.ts'

/** What to do with occurrences that were due while no instance ran them. */
export type MissedPolicy = 'skip' | 'once' | 'all'
/** What to do when an occurrence is due while the previous run of the schedule still runs. */
export type OverlapPolicy = 'skip' | 'queue' | 'allow'

/** Per-schedule options; unset ones come from the scheduler's settings. */
export interface ScheduleOptions {
  /** IANA zone of a cron expression (default `BEAVER_SCHEDULER_TIMEZONE`). */
  timezone?: string | undefined
  /** No occurrence before this instant. */
  startAt?: Date | string | number | undefined
  /** No occurrence at or after this instant. */
  endAt?: Date | string | number | undefined
  /** Occurrences from `startAt` (or the first registration in the store), whether they ran or not. */
  maxRuns?: number | undefined
  /** A random delay up to this long before each run (spreads load when many instances share a slot's due time). */
  jitter?: Duration | undefined
  /** Default `BEAVER_SCHEDULER_MISSED`. */
  missed?: MissedPolicy | undefined
  /** Most occurrences the `all` policy runs (1..1000; default `BEAVER_SCHEDULER_MAX_CATCHUP`). */
  maxCatchup?: number | undefined
  /** Default `skip`: an occurrence due while the previous run goes on is recorded as skipped. */
  overlap?: OverlapPolicy | undefined
  /** Aborts the handler's signal and records the run as `timeout` after this long. */
  timeout?: Duration | undefined
}

/** Resolved settings an entry falls back to. */
export interface EntryDefaults {
  timezone: string
  missed: MissedPolicy
  maxCatchup: number
}

/** A schedule as one instance tracks it. */
export interface Entry {
  readonly name: string
  readonly spec: ScheduleSpec
  readonly handler: ScheduleHandler
  readonly missed: MissedPolicy
  readonly maxCatchup: number
  readonly overlap: OverlapPolicy
  readonly timeoutMs: number | undefined
  readonly jitterMs: number
  readonly bounds: { startAt: number | undefined; endAt: number | undefined; maxRuns: number | undefined }
  readonly timezone: string
  timing: Timing
  /** The shared anchor (first registration in the store); undefined until registered. */
  anchorAt: number | undefined
  /** The latest due time this instance has dealt with; undefined until registered. */
  cursor: number | undefined
  /** Cached `timing.next(cursor)`. */
  next: number | undefined
  paused: boolean
  lastTriggerSeen: number
  running: number
  chain: Promise<void>
  overdueReported: number
}

const instant = (value: Date | string | number | undefined, what: string, name: string): number | undefined => {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms)) {
    throw new SchedulerError(
      'SCHEDULER_OPTIONS_INVALID',
      `${what} of schedule "${name}" is not a date: ${String(value)}.`,
      {
        details: { schedule: name },
      },
    )
  }
  return ms
}

function oneOf<T extends string>(
  value: T | undefined,
  allowed: readonly T[],
  what: string,
  name: string,
): T | undefined {
  if (value === undefined || allowed.includes(value)) return value
  throw new SchedulerError(
    'SCHEDULER_OPTIONS_INVALID',
    `${what} of schedule "${name}" is "${String(value)}"; expected one of ${allowed.join(', ')}.`,
    { details: { schedule: name, value } },
  )
}

/** Turns a cron string, Date or spec plus options into an entry; every bad input throws here, at registration. */
export function createEntry(
  name: string,
  when: string | Date | ScheduleSpec,
  handler: ScheduleHandler,
  options: ScheduleOptions,
  defaults: EntryDefaults,
  now: number,
): Entry {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(name)) {
    throw new SchedulerError(
      'SCHEDULER_OPTIONS_INVALID',
      `The schedule name "${name}" is invalid; use 1 to 128 letters, digits, _ . : and -.`,
      { details: { schedule: name } },
    )
  }
  if (typeof handler !== 'function') {
    throw new SchedulerError('SCHEDULER_OPTIONS_INVALID', `Schedule "${name}" needs a handler function.`)
  }
  const spec: ScheduleSpec =
    typeof when === 'string'
      ? { kind: 'cron', expression: when }
      : when instanceof Date
        ? { kind: 'at', at: instant(when, 'The date', name) as number }
        : when
  if (options.timezone !== undefined) checkTimezone(options.timezone, `The timezone option of schedule "${name}"`)
  const timezone = options.timezone ?? (spec.kind === 'cron' ? spec.timezone : undefined) ?? defaults.timezone
  const maxCatchup = options.maxCatchup ?? defaults.maxCatchup
  if (!Number.isSafeInteger(maxCatchup) || maxCatchup < 1 || maxCatchup > 1000) {
    throw new SchedulerError(
      'SCHEDULER_OPTIONS_INVALID',
      `maxCatchup of schedule "${name}" is ${String(maxCatchup)}; expected a whole number from 1 to 1000.`,
      { details: { schedule: name, maxCatchup } },
    )
  }
  const maxRuns = options.maxRuns
  if (maxRuns !== undefined && (!Number.isSafeInteger(maxRuns) || maxRuns < 1 || maxRuns > 100_000)) {
    throw new SchedulerError(
      'SCHEDULER_OPTIONS_INVALID',
      `maxRuns of schedule "${name}" is ${String(maxRuns)}; expected a whole number from 1 to 100000.`,
      { details: { schedule: name, maxRuns } },
    )
  }
  const bounds = {
    startAt: instant(options.startAt, 'startAt', name),
    endAt: instant(options.endAt, 'endAt', name),
    maxRuns,
  }
  const effectiveSpec: ScheduleSpec = spec.kind === 'cron' ? { ...spec, timezone } : spec
  return {
    name,
    spec: effectiveSpec,
    handler,
    missed: oneOf(options.missed, ['skip', 'once', 'all'], 'missed', name) ?? defaults.missed,
    maxCatchup,
    overlap: oneOf(options.overlap, ['skip', 'queue', 'allow'], 'overlap', name) ?? 'skip',
    timeoutMs: options.timeout === undefined ? undefined : toMs(options.timeout, `timeout of schedule "${name}"`),
    jitterMs: options.jitter === undefined ? 0 : toMs(options.jitter, `jitter of schedule "${name}"`),
    bounds,
    timezone,
    timing: buildTiming(name, effectiveSpec, timezone, bounds, bounds.startAt ?? now),
    anchorAt: undefined,
    cursor: undefined,
    next: undefined,
    paused: false,
    lastTriggerSeen: 0,
    running: 0,
    chain: Promise.resolve(),
    overdueReported: 0,
  }
}

/** Rebuilds the timing on the anchor the store holds, so `anchor: 'start'` and `maxRuns` agree fleet-wide. */
export function anchorEntry(entry: Entry, anchorAt: number): void {
  entry.anchorAt = entry.bounds.startAt ?? anchorAt
  entry.timing = buildTiming(entry.name, entry.spec, entry.timezone, entry.bounds, entry.anchorAt)
}
