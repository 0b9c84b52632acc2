import { isBeaverError } from '@beaver-kit/core'
import { ConfigError, isConfigError, type ConfigIssue } from './errors.ts'
import { resolveConfig, type ResolvedConfig, type ResolveOptions } from './resolve.ts'
import { isSchema, type InferConfig, type Schema, type Shape } from './schema.ts'

/** One package to check: a schema (resolved from the environment), or a factory to call (`() => cache()`). */
export type ConfigurationCheck = Schema | (() => unknown)

type Checked<C> = C extends Schema<infer S> ? ResolvedConfig<InferConfig<S>> : C extends () => infer R ? R : never

/**
 * Checks the configuration of several packages at once, so a service that starts with bad
 * settings is told about every bad variable of every package in one go, not one per restart.
 * Each entry is a schema (resolved with `options`) or a factory such as `() => cache()`: since
 * creating an instance does no I/O, anything it throws is a configuration problem. Every
 * `ConfigError` issue and every other kit error (an unknown driver, a bad log output) is
 * collected into one `ConfigError`, grouped by package, whose message is meant to be printed
 * as it is. Returns what each entry produced when all of them are valid.
 * @example
 * try {
 *   const { log, cache } = validateConfiguration({ logger: () => logger(), cache: () => cache(), db: dbSchema })
 * } catch (err) {
 *   if (isConfigError(err)) { process.stderr.write(`${err.message}\n`); process.exit(1) }
 *   throw err
 * }
 */
export function validateConfiguration<const T extends Record<string, ConfigurationCheck>>(
  checks: T,
  options: Pick<ResolveOptions<Shape>, 'envPrefix' | 'env' | 'envFiles' | 'cwd' | 'unknown'> = {},
): { readonly [K in keyof T]: Checked<T[K]> } {
  const results: Record<string, unknown> = {}
  const issues: ConfigIssue[] = []
  for (const [pkg, check] of Object.entries(checks)) {
    try {
      results[pkg] = isSchema(check) ? resolveConfig(check, options) : check()
    } catch (err) {
      if (isConfigError(err)) for (const issue of err.issues) issues.push({ ...issue, package: issue.package ?? pkg })
      else if (isBeaverError(err))
        issues.push({ name: settingOf(err) ?? pkg, found: undefined, expected: err.message, package: pkg })
      else throw err // not a configuration problem: a bug, shown as it is
    }
  }
  if (issues.length > 0) throw new ConfigError(undefined, issues)
  return results as { readonly [K in keyof T]: Checked<T[K]> }
}

// A kit error names the variable at fault in its details when it knows it (a driver registry's `setting`).
function settingOf(err: { details: Readonly<Record<string, unknown>> }): string | undefined {
  const setting = err.details.setting
  return typeof setting === 'string' ? setting : undefined
}
