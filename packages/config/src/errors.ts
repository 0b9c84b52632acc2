import { BeaverError, errorGuard } from '@beaver-kit/core'

export type ConfigErrorCode = 'CONFIG_INVALID'

/** One bad, missing or unknown variable. */
export interface ConfigIssue {
  /** Full variable name (or `option <path>` for an explicit option). */
  name: string
  /** What was found, masked when secret; undefined when missing. */
  found: string | undefined
  /** What is accepted, or the fix. */
  expected: string
}

/** Every problem of one configuration at once, each naming its variable and what it accepts. */
export class ConfigError extends BeaverError<ConfigErrorCode> {
  readonly issues: readonly ConfigIssue[]
  constructor(title: string, issues: ConfigIssue[]) {
    const lines = issues.map(
      (i) => `  - ${i.name}${i.found === undefined ? '' : ` is ${JSON.stringify(i.found)}`}: ${i.expected}`,
    )
    super(
      'CONFIG_INVALID',
      `Invalid ${title} configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      {
        details: { issues },
      },
    )
    this.issues = Object.freeze(issues)
  }
}

export const isConfigError = errorGuard<ConfigErrorCode, ConfigError>('CONFIG_')
