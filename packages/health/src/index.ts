export { createHealth } from './health.ts'
export type { Health, HealthOptions, RegisterOptions } from './health.ts'
export { health, initHealth, resetHealth, withPrefix } from './default.ts'
export { HealthError, isHealthError } from './errors.ts'
export type { HealthErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export type { CheckStatus } from './channels.ts'
export type { CheckFn, CheckOptions, CheckResult, CheckState } from './check.ts'
export type { ProbeName, ProbeReport } from './report.ts'
export type { HealthHandler } from './handler.ts'
export {
  cacheCheck,
  databaseCheck,
  diskCheck,
  httpCheck,
  instanceCheck,
  memoryCheck,
  queueCheck,
  redisCheck,
} from './checkers.ts'
export type { DiskCheckOptions, HttpCheckOptions, MemoryCheckOptions, ReadyTarget } from './checkers.ts'
