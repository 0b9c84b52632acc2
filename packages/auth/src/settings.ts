import { AuthError } from './errors.ts'

interface Checked {
  accessTtl: number
  refreshTtl: number
  familyTtl: number
  resetTtl: number
  verifyTtl: number
  password: { minLength: number; maxLength: number }
  lockout: { baseDelay: number; maxDelay: number; forgetAfter: number }
}

const MIN = 60_000
const DAY = 86_400_000

/**
 * Bounds the durations the schema cannot (a token that lives a year, a lockout of a week):
 * one AUTH_OPTIONS_INVALID naming every variable out of range and its accepted range.
 */
export function checkSettings(v: Checked, envPrefix: string | false | undefined): void {
  const prefix = envPrefix === false ? '' : (envPrefix ?? 'BEAVER_')
  const rules: [string, number, number, number][] = [
    ['ACCESS_TTL', v.accessTtl, 10_000, DAY],
    ['REFRESH_TTL', v.refreshTtl, MIN, 365 * DAY],
    ['FAMILY_TTL', v.familyTtl, MIN, 365 * DAY],
    ['RESET_TTL', v.resetTtl, MIN, DAY],
    ['VERIFY_TTL', v.verifyTtl, MIN, 30 * DAY],
    ['LOCKOUT_BASE_DELAY', v.lockout.baseDelay, 1000, 3_600_000],
    ['LOCKOUT_MAX_DELAY', v.lockout.maxDelay, 1000, DAY],
    ['LOCKOUT_FORGET_AFTER', v.lockout.forgetAfter, MIN, 30 * DAY],
  ]
  const problems = rules
    .filter(([, value, min, max]) => !(value >= min && value <= max))
    .map(([name, value, min, max]) => `${prefix}AUTH_${name} is ${value} ms; expected ${min}-${max} ms`)
  if (v.password.maxLength < v.password.minLength)
    problems.push(
      `${prefix}AUTH_PASSWORD_MAX_LENGTH (${v.password.maxLength}) is below ${prefix}AUTH_PASSWORD_MIN_LENGTH (${v.password.minLength})`,
    )
  if (v.lockout.maxDelay < v.lockout.baseDelay)
    problems.push(`${prefix}AUTH_LOCKOUT_MAX_DELAY is below ${prefix}AUTH_LOCKOUT_BASE_DELAY`)
  if (problems.length > 0)
    throw new AuthError('AUTH_OPTIONS_INVALID', `Invalid auth settings: ${problems.join('; ')}.`, {
      details: { problems },
    })
}
