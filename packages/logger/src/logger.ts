import pino from 'pino'
import {
  describeInstance,
  maskUrl,
  resolveConfig,
  type DescribedValue,
  type InstanceDescription,
} from '@beaver-kit/config'
import { logSchema, type LogSchemaOptions } from './config.ts'
import { contextReader } from './context.ts'
import { LoggerError } from './errors.ts'
import { watchKitChannels } from './kit-visibility.ts'
import { moduleLevel, parseModuleLevels, type Level, type ModuleLevels } from './levels.ts'
import { buildTargets, destinationFor, type Target } from './outputs/build.ts'
import type { LogSink } from './outputs/types.ts'
import { createPathRedactor } from './redact-paths.ts'
import { createFieldWalker, createMessageMasker } from './redact.ts'
import { maskUrlsInObjectJson, maskUrlsInRedactingChild } from './json-urls.ts'
import { serializeError } from './serialize-error.ts'
import { maskUrlText } from './url-text.ts'

/** A log method: `log.info('text')`, `log.info({ userId }, 'text')`, `log.error(err)`. */
export interface LogFn {
  (msg: string, ...args: unknown[]): void
  (obj: object, msg?: string, ...args: unknown[]): void
}

/** Options of `child()`. */
export interface ChildOptions {
  /** A level of its own; otherwise the child follows its parent's. */
  level?: Level
  /** Text put before every message of the child. */
  msgPrefix?: string
}

/** How many lines each output could not deliver. */
export interface LoggerStats {
  dropped: number
  outputs: ReadonlyArray<{ name: string; dropped: number }>
}

/**
 * A structured logger. It is a pino logger underneath (`.pino`), so every call costs what
 * pino's costs, and a call below the level is one no-op function call.
 */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  /** The current level; assign to change it at runtime. */
  level: Level
  isLevelEnabled(level: Level): boolean
  /** A logger whose lines carry `bindings`. */
  child(bindings: Record<string, unknown>, options?: ChildOptions): Logger
  /** The logger of a module: lines carry `module`, the level comes from `BEAVER_LOG_LEVELS`. */
  for(module: string): Logger
  /** Replaces the per-module levels at runtime: `'db=debug,*=info'` or `{ db: 'debug' }`. */
  setLevels(levels: string | Readonly<Record<string, Level>>): void
  /** The fields bound to this logger. */
  bindings(): Record<string, unknown>
  /** Replaces the fields bound to this logger (redacted like child bindings). */
  setBindings(bindings: Record<string, unknown>): void
  /** The pino instance, for libraries that take one (Fastify's `loggerInstance`). */
  readonly pino: pino.Logger
  /** Resolves when every output has taken every line written so far. */
  flush(): Promise<void>
  /** Flushes and closes every output; idempotent. Lines logged afterwards are counted as dropped. */
  close(): Promise<void>
  stats(): LoggerStats
  /**
   * Resolves once every output can take lines: files are open from creation, a TCP or unix
   * syslog server must accept a connection (else `LOG_OUTPUT_UNREACHABLE`). Logging never
   * needs it: network outputs connect on the first line.
   */
  ready(options?: { signal?: AbortSignal }): Promise<void>
  /** The resolved settings (secrets and URL credentials masked) and the live state: level, outputs, dropped lines. */
  describe(): InstanceDescription
  [Symbol.asyncDispose](): Promise<void>
}

/** Options of `createLogger()`: every `BEAVER_LOG_*` setting, plus a few that only code can pass. */
export interface LoggerOptions extends LogSchemaOptions {
  /** Read `<envPrefix>LOG_*` instead of `BEAVER_LOG_*`; `false` reads no environment. */
  envPrefix?: string | false
  /** The environment to read (default `process.env`). */
  env?: NodeJS.ProcessEnv
  /** Extra destinations written alongside `outputs` (tests, forwarding). */
  sinks?: readonly LogSink[]
}

type PinoLogger = pino.Logger<string>

interface RootState {
  kit: boolean
  levels: ModuleLevels
  modules: Map<string, PinoLogger>
  extraModules: Set<WeakRef<PinoLogger>>
  targets: Target[]
  unwatchKit: (() => void) | undefined
  closing: Promise<void> | undefined
  envPrefix: string | false | undefined
  entries: readonly DescribedValue[]
  /** pino's msg serializer that masks URL credentials; undefined when redaction is off. */
  maskMessage: ((msg: unknown) => unknown) | undefined
}

const MODULE = Symbol('beaver-kit.logger.module')

/**
 * Creates a logger from options > `BEAVER_LOG_*` > defaults. Invalid settings throw one
 * ConfigError or LoggerError naming the fix; file outputs are opened here (a bad path fails
 * now, not at the first line), network outputs connect on the first line.
 * @example
 * const log = createLogger({ outputs: ['stdout', 'file:/var/log/app.log?level=warn'] })
 * log.for('db').debug({ sql }, 'query')
 * await log.close()
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { sinks = [], envPrefix, env, ...schemaOptions } = options
  const { values: config, entries } = resolveConfig(logSchema, {
    options: schemaOptions,
    envPrefix,
    ...(env === undefined ? {} : { env }),
  })
  const levels = withKitRule(parseModuleLevels(config.levels), config.kit)
  // Secret keys are censored and URL credentials masked where text enters a line: the fields
  // and context by this walk (every line), bindings by it too (once, when a child is made), the
  // message by pino's msg serializer (maskMessage) after interpolation and prefixing, and what is
  // nested in an object field by pino's stringify (maskUrlsInObjectJson), on the JSON it builds.
  const walkFields = createFieldWalker(config.redactKeys, config.censor, { nestedStrings: false })
  const redactPaths = createPathRedactor(config.redact, config.censor)
  // Errors serialized, secret keys censored, then the configured paths: for child bindings once,
  // when the child is made, and for the fields of every line (below).
  const prepare =
    redactPaths === undefined ? walkFields : (obj: Record<string, unknown>) => redactPaths(walkFields(obj))
  const maskMessage = createMessageMasker(config.redactKeys, walkFields)
  const readContext = contextReader(config.otel)
  // The one function pino calls per line before serializing: the context fields (the call's own
  // win), then prepare(). Doing it here rather than in a pino mixin saves a call per line.
  const prepareLine = (fields: Record<string, unknown>): Record<string, unknown> => {
    const context = readContext()
    return prepare(context === undefined ? fields : { ...context, ...fields })
  }
  const targets = buildTargets(config, sinks)
  if (targets.length === 0) {
    throw new LoggerError('LOG_OUTPUT_INVALID', 'No log output: set BEAVER_LOG_OUTPUTS (e.g. stdout) or pass sinks', {
      details: { outputs: config.outputs },
    })
  }
  const root = pino(
    {
      level: config.level,
      ...(config.name === undefined
        ? {}
        : { name: maskMessage === undefined ? config.name : maskUrlText(config.name) }),
      timestamp: config.time === 'iso' ? pino.stdTimeFunctions.isoTime : pino.stdTimeFunctions.epochTime,
      formatters: { log: prepareLine },
      serializers: {
        err: serializeErrorValue,
        error: serializeErrorValue,
        ...(maskMessage === undefined ? {} : { msg: maskMessage }),
      },
    },
    destinationFor(targets),
  )
  const state: RootState = {
    kit: config.kit,
    levels,
    modules: new Map(),
    extraModules: new Set(),
    targets,
    unwatchKit: undefined,
    closing: undefined,
    envPrefix,
    entries,
    maskMessage,
  }
  if (maskMessage !== undefined) maskUrlsInObjectJson(root)
  // Child bindings are serialized once, when the child is made: they go through the same walk.
  install(root as unknown as PinoLogger, state, prepare)
  const logger = root as unknown as Logger
  if (config.kit) state.unwatchKit = watchKitChannels(logger.for('kit'))
  return logger
}

function serializeErrorValue(value: unknown): unknown {
  return value instanceof Error ? serializeError(value) : value
}

function install(
  root: PinoLogger,
  state: RootState,
  prepare: (obj: Record<string, unknown>) => Record<string, unknown>,
): void {
  const pinoChild = root.child
  const pinoSetBindings = root.setBindings
  const levelOf = (module: string): Level => moduleLevel(state.levels, module) ?? (root.level as Level)

  function refreshModules(): void {
    for (const [name, log] of state.modules) setLevel(log, levelOf(name))
    for (const ref of state.extraModules) {
      const log = ref.deref()
      if (log === undefined) state.extraModules.delete(ref)
      else setLevel(log, levelOf((log as unknown as Record<symbol, string>)[MODULE] as string))
    }
  }

  root.on('level-change', (_label, _value, _previous, _previousValue, changed) => {
    if (changed === root) refreshModules()
  })

  const methods = {
    child(this: PinoLogger, bindings: Record<string, unknown>, options?: pino.ChildLoggerOptions): PinoLogger {
      const child = pinoChild.call(this, prepare(bindings), keepMasking(options, state.maskMessage))
      if (options?.redact !== undefined && state.maskMessage !== undefined) maskUrlsInRedactingChild(child, this)
      return child
    },
    setBindings(this: PinoLogger, bindings: Record<string, unknown>): void {
      pinoSetBindings.call(this, prepare(bindings))
    },
    for(this: PinoLogger, module: string): PinoLogger {
      if (typeof module !== 'string' || module === '') {
        throw new LoggerError('LOG_LEVELS_INVALID', `logger.for() needs a module name, got ${JSON.stringify(module)}`, {
          details: { module },
        })
      }
      if (this === root) {
        const known = state.modules.get(module)
        if (known) return known
      }
      const log = pinoChild.call(this, prepare({ module }), { level: levelOf(module) })
      Object.defineProperty(log, MODULE, { value: module })
      if (this === root) state.modules.set(module, log)
      else state.extraModules.add(new WeakRef(log))
      return log
    },
    setLevels(levels: string | Readonly<Record<string, Level>>): void {
      state.levels = withKitRule(parseModuleLevels(levels), state.kit)
      refreshModules()
    },
    async flush(cb?: (err?: Error) => void): Promise<void> {
      try {
        await Promise.all(state.targets.map((t) => t.output.flush()))
        cb?.()
      } catch (err) {
        if (cb) cb(err as Error)
        else throw err
      }
    },
    close(): Promise<void> {
      state.closing ??= closeAll(state)
      return state.closing
    },
    stats(): LoggerStats {
      const outputs = state.targets.map((t) => ({ name: t.output.name, dropped: t.output.dropped }))
      return { dropped: outputs.reduce((n, o) => n + o.dropped, 0), outputs }
    },
    async ready(options: { signal?: AbortSignal } = {}): Promise<void> {
      if (state.closing !== undefined) {
        throw new LoggerError('LOG_CLOSED', 'ready() on a closed logger: create a new one', { details: {} })
      }
      await Promise.all(state.targets.map((t) => t.output.ready?.(options.signal) ?? Promise.resolve()))
    },
    describe(): InstanceDescription {
      const { dropped } = methods.stats()
      return describeInstance('logger', state.envPrefix, state.entries, {
        level: root.level,
        outputs: state.targets.map((t) => maskUrl(t.output.name)).join(', '),
        dropped,
        closed: state.closing !== undefined,
      })
    },
    [Symbol.asyncDispose](): Promise<void> {
      return methods.close()
    },
  }
  for (const [key, value] of [
    ...Object.entries(methods),
    [Symbol.asyncDispose, methods[Symbol.asyncDispose]] as const,
  ]) {
    Object.defineProperty(root, key, { value, writable: true, configurable: true })
  }
  Object.defineProperty(root, 'pino', {
    get(this: PinoLogger) {
      return this
    },
  })
}

// A child's own msg serializer (pino merges a child's serializers over its parent's) would
// replace the one that masks the message: the masking runs on what it returns instead.
function keepMasking(
  options: pino.ChildLoggerOptions | undefined,
  maskMessage: ((msg: unknown) => unknown) | undefined,
): pino.ChildLoggerOptions | undefined {
  const own = options?.serializers?.msg
  if (own === undefined || maskMessage === undefined) return options
  return { ...options, serializers: { ...options?.serializers, msg: (msg: unknown) => maskMessage(own(msg)) } }
}

// Kit visibility logs through the `kit` module at debug whatever the root level, unless a rule
// names `kit`: the one switch is enough to see what the kit does.
function withKitRule(levels: ModuleLevels, kit: boolean): ModuleLevels {
  if (!kit || levels.rules.some((r) => r.module === 'kit')) return levels
  return { rules: [...levels.rules, { module: 'kit', level: 'debug' }], fallback: levels.fallback }
}

function setLevel(log: PinoLogger, level: Level): void {
  if (log.level !== level) log.level = level
}

async function closeAll(state: RootState): Promise<void> {
  state.unwatchKit?.()
  const results = await Promise.allSettled(state.targets.map((t) => t.output.close()))
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) {
    throw new LoggerError(
      'LOG_CLOSE_FAILED',
      `${errors.length} log outputs failed to close: ${errors.map(String).join('; ')}`,
      {
        cause: new AggregateError(errors),
        details: { failed: errors.length },
      },
    )
  }
}
