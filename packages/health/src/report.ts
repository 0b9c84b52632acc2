import type { CheckState } from './check.ts'

export type ProbeName = 'liveness' | 'readiness' | 'startup'

/** What one probe answers. `ok` decides the status code: 200 when true (also when degraded), 503 otherwise. */
export interface ProbeReport {
  probe: ProbeName
  ok: boolean
  /** `draining` once shutdown began (readiness only); `starting` until every critical check passed once (startup). */
  status: 'up' | 'degraded' | 'down' | 'draining' | 'starting'
  checks: Record<string, Omit<CheckState, 'probe' | 'failures'> & { failures?: number }>
}

/** Combines checks into one probe answer: a critical check down or pending fails; anything else down or degraded degrades. */
export function summarize(
  states: ReadonlyArray<readonly [string, Readonly<CheckState>]>,
  verbose: boolean,
): Omit<ProbeReport, 'probe'> {
  let failed = false
  let degraded = false
  const checks: ProbeReport['checks'] = {}
  for (const [name, s] of states) {
    if (s.status === 'down' || s.status === 'pending') {
      if (s.critical) failed = true
      else degraded = true
    } else if (s.status === 'degraded') degraded = true
    const { probe: _probe, error, failures, ...shown } = s
    checks[name] = {
      ...shown,
      ...(failures > 0 ? { failures } : {}),
      ...(verbose && error !== undefined ? { error } : {}),
    }
  }
  return { ok: !failed, status: failed ? 'down' : degraded ? 'degraded' : 'up', checks }
}
