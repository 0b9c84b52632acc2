import { LoggerError } from './errors.ts'

/** The levels, lowest first; `silent` turns a logger off. */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
/** A level a line can have. */
export type LevelName = (typeof LEVELS)[number]
/** A level a logger or output can be set to: a line level, or `silent` for nothing. */
export type Level = LevelName | 'silent'

/** pino's numbers for each level. */
export const LEVEL_VALUES: Readonly<Record<Level, number>> = Object.freeze({
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
})

/** True for a level name, `silent` included. */
export function isLevel(value: unknown): value is Level {
  return typeof value === 'string' && Object.hasOwn(LEVEL_VALUES, value)
}

/** Returns the level, or throws LOG_LEVEL_INVALID naming `where` it came from. */
export function assertLevel(value: unknown, where: string): Level {
  if (isLevel(value)) return value
  throw new LoggerError(
    'LOG_LEVEL_INVALID',
    `${where} is ${JSON.stringify(value)}; expected one of ${[...LEVELS, 'silent'].join(', ')}`,
    { details: { value, where } },
  )
}

/** Per-module levels: `db=debug,http=warn,*=info` as rules, most specific first. */
export interface ModuleLevels {
  readonly rules: ReadonlyArray<{ readonly module: string; readonly level: Level }>
  /** The `*` rule, if any. */
  readonly fallback: Level | undefined
}

/**
 * Parses `db=debug,http=warn,*=info`. A rule for `db` also covers `db:pool`, `db.pool` and
 * `db/pool`; the longest matching rule wins; `*` applies to every other module.
 */
export function parseModuleLevels(spec: string | Readonly<Record<string, Level>>): ModuleLevels {
  const pairs: Array<[string, string]> =
    typeof spec === 'string'
      ? spec
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((item) => {
            const eq = item.indexOf('=')
            if (eq <= 0 || eq === item.length - 1) {
              throw new LoggerError(
                'LOG_LEVELS_INVALID',
                `Module level "${item}" in "${spec}" is not module=level; write it like db=debug,http=warn,*=info`,
                { details: { spec, item } },
              )
            }
            return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()]
          })
      : Object.entries(spec)
  const rules: Array<{ module: string; level: Level }> = []
  let fallback: Level | undefined
  for (const [module, raw] of pairs) {
    const level = assertLevel(raw, `The level of module "${module}"`)
    if (module === '*') fallback = level
    else rules.push({ module, level })
  }
  rules.sort((a, b) => b.module.length - a.module.length)
  return Object.freeze({ rules: Object.freeze(rules), fallback })
}

/** The level a module gets from the rules, or undefined when no rule names it. */
export function moduleLevel(levels: ModuleLevels, module: string): Level | undefined {
  for (const rule of levels.rules) {
    if (module === rule.module) return rule.level
    if (module.startsWith(rule.module)) {
      const sep = module.charCodeAt(rule.module.length)
      if (sep === 58 /* : */ || sep === 46 /* . */ || sep === 47 /* / */) return rule.level
    }
  }
  return levels.fallback
}
