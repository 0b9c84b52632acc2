import dc from 'node:diagnostics_channel'
import { isSecretName, maskUrlsIn } from '@beaver-kit/config'
import { watchChannels } from '@beaver-kit/core'

interface DebugLogger {
  debug(obj: object, msg: string): void
}

type Ctx = Record<string, unknown>

/**
 * Logs every `beaver:*` diagnostics-channel event of the kit at debug: one line per finished
 * operation of a tracing channel (with its duration and error) and one per plain event. Only
 * primitive fields are copied, so no client object or payload is ever serialized; keys, values
 * and secret-named fields are left out and URLs masked, so a kit log never carries a secret.
 * The logger's own channels are skipped so that a failing output cannot feed itself.
 */
export function watchKitChannels(log: DebugLogger): () => void {
  const undo: Array<() => void> = []
  const unwatch = watchChannels(function subscribe(name) {
    if (name.startsWith('beaver:logger:')) return
    const onEvent = (message: unknown): void => {
      log.debug({ channel: name, ...primitives(message) }, name)
    }
    dc.subscribe(name, onEvent)
    const started = new WeakMap<object, number>()
    const finish = (ctx: Ctx): void => {
      const start = started.get(ctx)
      const fields: Ctx = { channel: name, ...primitives(ctx) }
      if (start !== undefined) fields.durationMs = Math.round((performance.now() - start) * 1000) / 1000
      if (ctx.error !== undefined) fields.err = ctx.error
      log.debug(fields, ctx.error === undefined ? `${name} done` : `${name} failed`)
    }
    const handlers = {
      start(ctx: unknown) {
        started.set(ctx as object, performance.now())
      },
      end(ctx: unknown) {
        // traceSync (and a promise fn that threw synchronously) ends here; tracePromise ends at asyncEnd.
        const c = ctx as Ctx
        if ('result' in c || 'error' in c) finish(c)
      },
      asyncStart() {},
      asyncEnd(ctx: unknown) {
        finish(ctx as Ctx)
      },
      error() {},
    }
    const tracing = dc.tracingChannel(name)
    tracing.subscribe(handlers)
    undo.push(() => {
      dc.unsubscribe(name, onEvent)
      tracing.unsubscribe(handlers)
    })
  })
  return function unwatchKitChannels() {
    unwatch()
    for (const fn of undo.splice(0)) fn()
  }
}

// Fields that hold what an operation worked on rather than how it went: never logged, whatever
// a channel publishes (a cache key may be `session:<token>`, a value anything).
const CONTENT = new Set([
  'key',
  'keys',
  'value',
  'values',
  'result',
  'error',
  'args',
  'params',
  'parameters',
  'body',
  'payload',
  'data',
])

/** Primitive fields only, never content or secret-named ones, URLs masked. */
function primitives(value: unknown): Ctx {
  if (typeof value !== 'object' || value === null) return {}
  const out: Ctx = {}
  for (const [key, v] of Object.entries(value)) {
    if (CONTENT.has(key) || isSecretName(key)) continue
    const t = typeof v
    if (t === 'string') out[key] = maskUrlsIn(v as string)
    else if (t === 'number' || t === 'boolean') out[key] = v
    else if (t === 'bigint') out[key] = String(v)
  }
  return out
}
