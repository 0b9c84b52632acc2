import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/scheduler; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('scheduler', {
  run: tracing<{
    schedule: string
    store: string
    trigger: string
    dueAt: number
    lagMs: number
    token: number
    outcome?: string
  }>(
    'One handler run, from claim to end',
    'schedule, store, trigger (scheduled, catchup, manual), dueAt, lagMs (start minus due time), token, outcome',
  ),
  missed: event<{ schedule: string; dueAt: number; policy: string; action: 'skipped' | 'catchup' }>(
    'An occurrence was due while no instance could run it (downtime, store outage)',
    'schedule, dueAt, policy, action',
  ),
  overdue: event<{ schedule: string; dueAt: number; lateMs: number }>(
    'Dead man’s switch: an expected occurrence has no run within the grace period',
    'schedule, dueAt, lateMs',
  ),
  skipped: event<{ schedule: string; dueAt: number; reason: 'overlap' | 'paused' }>(
    'An occurrence was claimed but not run',
    'schedule, dueAt, reason',
  ),
  leaseLost: event<{ schedule: string; token: number }>(
    'A running occurrence’s lease could not be renewed; its handler is aborted',
    'schedule, token',
  ),
  store: event<{ store: string; state: 'lost' | 'restored'; error?: unknown }>(
    'The store went away (scheduling pauses) or came back',
    'store, state, error',
  ),
  ready: tracing<{ store: string }>('ready() checks the store', 'store'),
})
