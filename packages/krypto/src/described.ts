import { ConfigError, type ConfigIssue, type DescribedValue } from '@beaver-kit/config'

/**
 * @internal The resolved entries with the setting at `path` shown as set by an option (masked):
 * values that bypass the schema (a key ring passed as objects) still show as set in describe().
 */
export function shownAsOption(entries: readonly DescribedValue[], path: string): DescribedValue[] {
  return entries.map((e) => (e.path === path ? { ...e, value: e.secret ? '****' : e.value, source: 'option' } : e))
}

/**
 * @internal How messages name the setting at `path`: its full variable (with the instance's
 * prefix), or `option <path>` when it was given in code or the instance reads no environment.
 */
export function settingNamer(
  entries: readonly DescribedValue[],
  envPrefix: string | false | undefined,
): (path: string) => string {
  return (path) => {
    const entry = entries.find((e) => e.path === path)
    return entry === undefined || entry.source === 'option' || envPrefix === false ? `option ${path}` : entry.name
  }
}

/** @internal One ConfigError for the issues found after the schema resolved (combinations of settings). */
export function configError(title: string, issues: ConfigIssue[]): ConfigError {
  return new ConfigError(title, issues)
}
