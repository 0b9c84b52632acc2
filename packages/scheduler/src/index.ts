export { createScheduler } from './scheduler.ts'
export type { ScheduledJob, Scheduler, SchedulerHealth, SchedulerOptions, ScheduleHealth, When } from './scheduler.ts'
export { scheduler, initScheduler, resetScheduler, withPrefix } from './default.ts'
export { SchedulerError, isSchedulerError } from './errors.ts'
export type { SchedulerErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { schedulerSchema } from './config.ts'
export type { SchedulerSettings } from './config.ts'
export { every, at, cron } from './fluent.ts'
export type { EveryBuilder, TimeOfDaySpec } from './fluent.ts'
export { presetNames } from './timing.ts'
export type { Anchor, CronSpec, IntervalSpec, OnceSpec, ScheduleSpec } from './timing.ts'
export type { MissedPolicy, OverlapPolicy, ScheduleOptions } from './entry.ts'
export type { RunContext, ScheduleHandler } from './run.ts'
export { defineSchedulerStore } from './store.ts'
export type {
  ClaimRequest,
  ControlPatch,
  RunEnd,
  RunOutcome,
  RunRecord,
  RunTrigger,
  ScheduleControl,
  SchedulerStore,
  SchedulerStoreContext,
  SchedulerStoreDefinition,
} from './store.ts'
export { registerSchedulerStore, schedulerStoreNames } from './registry.ts'
export { dispatchTo } from './dispatch.ts'
export type { QueuePublisher } from './dispatch.ts'
