import { defineChannels, event } from '@beaver-kit/core'

/** A check's status: `pending` until its first result. */
export type CheckStatus = 'pending' | 'up' | 'degraded' | 'down'

/** Every diagnostics channel of @beaver-kit/health; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('health', {
  check: event<{ check: string; status: CheckStatus; critical: boolean; durationMs: number }>(
    'A check ran (metrics turn it into beaver_health_check_status)',
    'check, status, critical, durationMs',
  ),
  draining: event<{ drainDelayMs: number }>(
    'Shutdown began: readiness fails from now on while liveness stays up',
    'drainDelayMs',
  ),
})
