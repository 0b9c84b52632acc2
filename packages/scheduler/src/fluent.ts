import { toMs, type Duration } from '@beaver-kit/config'
import { SchedulerError } from './errors.ts'
import type { Anchor, CronSpec, IntervalSpec, OnceSpec } from './timing.ts'

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const
type Weekday = (typeof DAYS)[number]

function invalid(message: string, details: Record<string, unknown> = {}): SchedulerError {
  return new SchedulerError('SCHEDULER_OPTIONS_INVALID', message, { details })
}

/** `HH:MM` or `HH:MM:SS` to its parts; throws naming the input otherwise. */
function parseTime(time: string): [number, number, number] {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(time.trim())
  const [h, mi, s] = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [NaN, NaN, NaN]
  if (!(h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59)) {
    throw invalid(`at("${time}") is not a time of day; use "HH:MM" or "HH:MM:SS" (24-hour), such as "09:00".`, { time })
  }
  return [h, mi, s]
}

/** A daily or weekly cron spec; `.at('09:30')` sets its time, `.in('Europe/Paris')` its zone. */
export interface TimeOfDaySpec extends CronSpec {
  at(time: string): TimeOfDaySpec
  in(timezone: string): TimeOfDaySpec
}

function timeOfDay(weekday: string, time: [number, number, number], timezone?: string): TimeOfDaySpec {
  const [h, mi, s] = time
  const expression = `${s} ${mi} ${h} * * ${weekday}`
  return Object.freeze({
    kind: 'cron' as const,
    expression,
    timezone,
    at: (t: string) => timeOfDay(weekday, parseTime(t), timezone),
    in: (tz: string) => timeOfDay(weekday, time, tz),
  })
}

function interval(everyMs: number, anchor: Anchor): IntervalSpec & { anchoredTo(anchor: Anchor): IntervalSpec } {
  if (!Number.isSafeInteger(everyMs) || everyMs < 1000) {
    throw invalid(`every() needs an interval of at least 1s (whole ms); got ${everyMs} ms.`, { everyMs })
  }
  return Object.freeze({
    kind: 'every' as const,
    everyMs,
    anchor,
    anchoredTo: (a: Anchor) => interval(everyMs, a),
  })
}

type Units = {
  seconds(): ReturnType<typeof interval>
  minutes(): ReturnType<typeof interval>
  hours(): ReturnType<typeof interval>
  /** Every day at midnight; `.at('09:00')` for another time. Only `every(1)`. */
  day(): TimeOfDaySpec
  /** Every week, Sunday at midnight; prefer `.monday()` ... `.sunday()`. Only `every(1)`. */
  week(): TimeOfDaySpec
} & Record<Weekday, () => TimeOfDaySpec>

/** The builder `every(n)` returns: pick a unit, then for days and weekdays a time with `.at()`. */
export type EveryBuilder = Units & {
  second(): ReturnType<typeof interval>
  minute(): ReturnType<typeof interval>
  hour(): ReturnType<typeof interval>
}

/**
 * An interval or a fluent builder. `every('5m')` runs in wall-clock slots (:00, :05, ...) by
 * default, the same slots on every instance; `every('5m', { anchor: 'start' })` counts from the
 * schedule's `startAt`, or from its first registration in the store.
 * @example scheduler.schedule('report', every(1).day().at('09:00'), sendReport)
 * @example scheduler.schedule('purge', every('5m'), purge)
 */
export function every(count: number): EveryBuilder
export function every(interval: string, options?: { anchor?: Anchor }): ReturnType<typeof intervalOf>
export function every(value: string | number, options?: { anchor?: Anchor }): EveryBuilder | IntervalSpec {
  if (typeof value === 'string') return intervalOf(value, options?.anchor ?? 'clock')
  const n = value
  if (!Number.isSafeInteger(n) || n < 1) {
    throw invalid(`every(${String(n)}) needs a whole number of at least 1, or a duration such as "5m".`, { count: n })
  }
  const one = (unit: string): void => {
    if (n !== 1) {
      throw invalid(
        `every(${n}).${unit}() is not a fixed calendar rule; use every(1).${unit}(), a cron expression, or every("${n * (unit === 'week' ? 7 : 1)}d", { anchor: 'start' }).`,
        { count: n, unit },
      )
    }
  }
  const midnight: [number, number, number] = [0, 0, 0]
  const units: EveryBuilder = {
    seconds: () => interval(n * 1000, 'clock'),
    minutes: () => interval(n * 60_000, 'clock'),
    hours: () => interval(n * 3_600_000, 'clock'),
    second: () => interval(n * 1000, 'clock'),
    minute: () => interval(n * 60_000, 'clock'),
    hour: () => interval(n * 3_600_000, 'clock'),
    day: () => (one('day'), timeOfDay('*', midnight)),
    week: () => (one('week'), timeOfDay('0', midnight)),
    ...(Object.fromEntries(DAYS.map((d, i) => [d, () => (one(d), timeOfDay(String(i), midnight))])) as Record<
      Weekday,
      () => TimeOfDaySpec
    >),
  }
  return Object.freeze(units)
}

function intervalOf(value: Duration, anchor: Anchor): ReturnType<typeof interval> {
  let ms: number
  try {
    ms = toMs(value, 'every()')
  } catch (error) {
    throw invalid(`every("${String(value)}") is not a duration; use "30s", "5m", "1h" or "2d".`, {
      value,
      cause: error,
    })
  }
  return interval(ms, anchor)
}

/** One occurrence at a date (a one-off job). @example scheduler.schedule('launch', at('2026-12-24T18:00:00Z'), go) */
export function at(date: Date | string | number): OnceSpec {
  const ms = date instanceof Date ? date.getTime() : typeof date === 'number' ? date : Date.parse(date)
  if (!Number.isFinite(ms)) throw invalid(`at(${JSON.stringify(String(date))}) is not a date.`, { date: String(date) })
  return Object.freeze({ kind: 'at' as const, at: ms })
}

/** A cron expression with its own time zone. @example cron('0 9 * * 1-5', 'Europe/Paris') */
export function cron(expression: string, timezone?: string): CronSpec {
  return Object.freeze({ kind: 'cron' as const, expression, timezone })
}
