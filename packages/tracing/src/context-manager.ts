import { AsyncLocalStorage } from 'node:async_hooks'
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'

/**
 * OpenTelemetry's AsyncLocalStorage context manager, on a storage the kit can see: every kit
 * tracing channel binds it (`channel.start.bindStore`), so the span of a kit operation is the
 * active context while the operation runs (child spans, traceparent, log correlation) with no
 * monkey-patching and no loader hook. The parent class keeps its event-emitter binding, which
 * goes through `with()`/`active()` and so through this storage.
 */
export class KitContextManager extends AsyncLocalStorageContextManager {
  /** The storage the kit's channels bind; its store is the active OpenTelemetry context. */
  readonly storage = new AsyncLocalStorage<Context>()

  override active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg == null ? fn : (fn.bind(thisArg) as F)
    return this.storage.run(context, cb, ...args)
  }

  override attach(context: Context): { dispose(): void } {
    const previous = this.active()
    this.storage.enterWith(context)
    let disposed = false
    return {
      dispose: () => {
        if (disposed) return
        disposed = true
        this.storage.enterWith(previous)
      },
    }
  }

  override disable(): this {
    this.storage.disable()
    return this
  }
}

/**
 * A context manager for an OpenTelemetry setup of your own (`new NodeSDK({ contextManager:
 * kitContextManager() })`): pass it before `initTracing()` and kit spans become the active
 * context inside kit operations, as they do when the kit registers the providers itself.
 */
export function kitContextManager(): KitContextManager {
  return new KitContextManager()
}
