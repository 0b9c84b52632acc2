import { createPathRedactor } from './redact-paths.ts'
import { createFieldWalker, keyMatcher } from './redact.ts'
import { DEFAULT_REDACT_KEYS } from './config.ts'

/** Options of `createRedactor()`: the same rules as `BEAVER_LOG_REDACT_KEYS`, `_REDACT` and `_CENSOR`. */
export interface RedactorOptions {
  /** Key names censored at any depth; `default` is the kit-wide secret-name rule, `none` turns it off. Default `['default']`. */
  keys?: readonly string[]
  /** Paths censored in pino syntax (`user.password`, `items[*].token`). Default none. */
  paths?: readonly string[]
  /** What replaces a redacted value. Default `[REDACTED]`. */
  censor?: unknown
}

/** The logger's redaction, for values that are stored or sent rather than logged (audit records, exports). */
export interface Redactor {
  /** A copy of `fields` with secret keys and the paths censored (the input is never mutated; errors are serialized). */
  redact(fields: Record<string, unknown>): Record<string, unknown>
  /** True when a key of this name is censored wherever it appears. */
  matchesKey(name: string): boolean
  readonly censor: unknown
}

/**
 * The redaction every log line goes through, as a function of its own, so that a package
 * storing user data (an audit trail) censors exactly what the logs would.
 * @example
 * const { redact } = createRedactor({ keys: ['default', 'ssn'] })
 * redact({ user: { password: 'x', ssn: '1' } }) // { user: { password: '[REDACTED]', ssn: '[REDACTED]' } }
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const keys = options.keys ?? DEFAULT_REDACT_KEYS
  const censor = 'censor' in options ? options.censor : '[REDACTED]'
  const walk = createFieldWalker(keys, censor)
  const paths = createPathRedactor(options.paths ?? [], censor)
  const matches = keyMatcher(keys)
  return {
    redact: paths === undefined ? walk : (fields) => paths(walk(fields)),
    matchesKey: (name) => name.length > 0 && matches(name),
    censor,
  }
}
