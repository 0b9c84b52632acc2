import type { EnvVars } from './dotenv.ts'
import type { DescribedValue } from './resolve.ts'

/** The environment an instance reads instead of `process.env` (tests, multi-tenant set-ups). */
export type EnvSource = EnvVars

/**
 * The options every `createX()` accepts besides its own settings: where its environment
 * comes from. `envPrefix: 'USER_'` reads `USER_CACHE_*`; `false` reads no environment.
 */
export interface InstanceOptions {
  /** `BEAVER_` by default; another prefix gives another instance; `false` reads no environment. */
  envPrefix?: string | false | undefined
  /** Read these variables instead of `process.env` (no `.env` files are read then). */
  env?: EnvSource | undefined
}

/**
 * What `describe()` returns on every instance: the package, every setting with where it came
 * from (secrets, URL passwords and secret query parameters masked), and the live state the
 * instance chooses to show (driver, connected, sizes). Log it as structured fields; print
 * `formatDescription()` on a terminal.
 */
export interface InstanceDescription {
  /** The package noun: `cache`, `database`, `http`. */
  readonly package: string
  /** The env prefix the instance read, or false for none. */
  readonly envPrefix: string | false
  readonly settings: readonly DescribedValue[]
  /** Live facts that are not settings (resolved driver, pool size, open circuits). Never secrets. */
  readonly state: Readonly<Record<string, string | number | boolean | undefined>>
}

/** Builds an instance's description from its resolved settings. */
export function describeInstance(
  pkg: string,
  envPrefix: string | false | undefined,
  settings: readonly DescribedValue[],
  state: Record<string, string | number | boolean | undefined> = {},
): InstanceDescription {
  return Object.freeze({
    package: pkg,
    envPrefix: envPrefix ?? 'BEAVER_',
    settings,
    state: Object.freeze({ ...state }),
  })
}

/**
 * An aligned, human-readable table of one or more descriptions, for a terminal: one line per
 * setting (`name  value  source`), unset settings left out unless `all` is set.
 */
export function formatDescription(
  descriptions: InstanceDescription | readonly InstanceDescription[],
  options: { all?: boolean } = {},
): string {
  const list = Array.isArray(descriptions) ? descriptions : [descriptions as InstanceDescription]
  const rows: [string, string, string][] = []
  for (const d of list) {
    for (const s of d.settings) {
      if (s.value === undefined && !options.all) continue
      rows.push([s.name, s.value ?? '-', s.source])
    }
    for (const [key, value] of Object.entries(d.state)) {
      if (value !== undefined) rows.push([`${d.package}.${key}`, String(value), 'state'])
    }
  }
  const w0 = Math.max(0, ...rows.map((r) => r[0].length))
  const w1 = Math.max(0, ...rows.map((r) => r[1].length))
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join('\n')
}
