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
  /** The package the variable belongs to, when one error reports several (`validateConfiguration`). */
  package?: string
}

/**
 * Every problem of one configuration at once, each naming its variable and what it accepts.
 * With several packages (from `validateConfiguration`) the message groups them by package.
 */
export class ConfigError extends BeaverError<ConfigErrorCode> {
  readonly issues: readonly ConfigIssue[]
  /** @param title the configuration's name (`cache`); undefined for several packages at once. */
  constructor(title: string | undefined, issues: ConfigIssue[]) {
    const count = `${issues.length} problem${issues.length === 1 ? '' : 's'}`
    let message: string
    if (title !== undefined) {
      message = `Invalid ${title} configuration (${count}):\n${issues.map((i) => line(i, '  ')).join('\n')}`
    } else {
      const packages = [...new Set(issues.map((i) => i.package ?? 'application'))]
      const groups = packages.map(
        (p) =>
          `  ${p}:\n${issues
            .filter((i) => (i.package ?? 'application') === p)
            .map((i) => line(i, '    '))
            .join('\n')}`,
      )
      message = `Invalid configuration (${count} in ${packages.join(', ')}):\n${groups.join('\n')}`
    }
    super('CONFIG_INVALID', message, { details: { issues } })
    this.issues = Object.freeze(issues)
  }
}

function line(issue: ConfigIssue, indent: string): string {
  const { name, found, expected } = issue
  // Another kit error already names its variable first ("BEAVER_CACHE_DRIVER is ..."): say it once.
  if (found === undefined && expected.startsWith(name)) return `${indent}- ${expected}`
  return `${indent}- ${name}${found === undefined ? '' : ` is ${JSON.stringify(found)}`}: ${expected}`
}

export const isConfigError = errorGuard<ConfigErrorCode, ConfigError>('CONFIG_')
