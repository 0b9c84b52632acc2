import type { AuthEvent, AuthEventSink } from './events.ts'

/** The part of `@beaver-kit/audit`'s instance the sink uses (structural: no dependency on it). */
export interface AuditRecorder {
  record(event: {
    action: string
    stream?: string | undefined
    actor?: string | null | undefined
    target?: string | null | undefined
    outcome?: 'success' | 'failure' | 'denied' | 'error' | undefined
    ip?: string | null | undefined
    userAgent?: string | null | undefined
    metadata?: Record<string, unknown> | null | undefined
    at?: Date | number | undefined
  }): Promise<unknown>
}

/** Options of `auditSink`. */
export interface AuditSinkOptions {
  /** The audit stream (hash chain) auth events join. Default: the audit instance's default stream. */
  stream?: string
}

/**
 * The `onEvent` sink that writes every auth event to a tamper-evident `@beaver-kit/audit`
 * trail: action `auth.login`, actor `user:<id>`, outcome (`denied` for refused access), ip,
 * user agent, and the reason, the target and the e-mail of unknown accounts as metadata.
 * @example
 * const trail = createAudit()
 * const auth = createAuth({ onEvent: auditSink(trail, { stream: 'auth' }) })
 */
export function auditSink(recorder: AuditRecorder, options: AuditSinkOptions = {}): AuthEventSink {
  return async function recordAuthEvent(event: AuthEvent): Promise<void> {
    const metadata: Record<string, unknown> = {}
    if (event.reason !== undefined) metadata.reason = event.reason
    if (event.email !== undefined) metadata.email = event.email
    await recorder.record({
      action: event.type,
      ...(options.stream !== undefined ? { stream: options.stream } : {}),
      actor: event.userId === undefined ? null : `user:${event.userId}`,
      target: event.target ?? null,
      outcome: event.type === 'auth.accessDenied' ? 'denied' : event.outcome,
      ip: event.ip ?? null,
      userAgent: event.userAgent ?? null,
      metadata: Object.keys(metadata).length > 0 ? metadata : null,
      at: event.at,
    })
  }
}
