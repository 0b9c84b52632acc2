import type { AsyncLocalStorage } from 'node:async_hooks'
import dc from 'node:diagnostics_channel'
import {
  ROOT_CONTEXT,
  context as api,
  trace,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { isTracingSuppressed, W3CTraceContextPropagator } from '@opentelemetry/core'
import { observeOperations, watchChannels } from '@beaver-kit/core'
import type { RecordingGate } from './recording-gate.ts'
import { finishSpan, payloadAttributes, planner, type SemanticOptions } from './semantics.ts'

/** What `traceKitChannels` needs. */
export interface KitSpanOptions extends SemanticOptions {
  readonly tracer: Tracer
  /**
   * The storage of the registered context manager. With it, a kit span is the active context
   * while its operation runs; without it (another context manager is registered), kit spans
   * take their parent from the active context but are not activated themselves.
   */
  readonly storage: AsyncLocalStorage<Context> | undefined
  /** `cache` or `cache:get`: left untraced. */
  readonly exclude: readonly string[]
  readonly queueConsumer: 'link' | 'child'
  /** Packages whose operations are traced only when a span is already active. */
  readonly requireParent: readonly string[]
  /** Whether the sampler would certainly drop a span under this parent (see `certainDrop`). */
  readonly drops?: ((parent: Context) => boolean) | undefined
  /**
   * Packages whose operations can only be recorded under a recording span (see `recordedOnlyInTrace`):
   * their channels are subscribed through `gate`, only while a span records in this process.
   */
  readonly gated?: ((pkg: string) => boolean) | undefined
  readonly gate?: RecordingGate | undefined
}

const SPAN = Symbol('beaver-kit.tracing.span')
type Carrier = Record<string, unknown> & { [SPAN]?: Span }
const w3c = new W3CTraceContextPropagator()
const getter = {
  keys: (c: Carrier) => Object.keys(c),
  get: (c: Carrier, key: string) => (typeof c[key] === 'string' ? c[key] : undefined),
}

/**
 * Turns every `beaver:<package>:<operation>` tracing channel, present and future, into spans,
 * and every event channel into span events on the active span. Returns the function that
 * unsubscribes everything.
 */
export function traceKitChannels(options: KitSpanOptions): () => void {
  const { tracer, storage, exclude, queueConsumer } = options
  const excluded = new Set(exclude)
  const needParent = new Set(options.requireParent)
  const active = storage === undefined ? () => api.active() : () => storage.getStore() ?? ROOT_CONTEXT
  const stops: Array<() => void> = []

  // A queue handler's parent: the producer's context from the message, never whatever context
  // the consume loop started in.
  function consumerParent(payload: Carrier): { parent: Context; links?: Link[] } {
    const producer = w3c.extract(ROOT_CONTEXT, payload, getter)
    const sc = trace.getSpanContext(producer)
    if (sc === undefined) return { parent: ROOT_CONTEXT }
    return { parent: queueConsumer === 'child' ? producer : ROOT_CONTEXT, links: [{ context: sc }] }
  }

  function traceOperation(name: string, pkg: string, op: string): () => void {
    const channel = dc.tracingChannel<unknown, Carrier>(name)
    const orphan = needParent.has(pkg)
    // A published message always goes through the SDK: its trace context travels in the message
    // and a consumer links to it. An HTTP call the sampler certainly drops makes no span either:
    // its `traceparent` is then the active context's (an unsampled caller's, forwarded with its
    // sampled=0, as W3C Trace Context asks), and at a dropped root there is no trace to carry.
    const drops = pkg === 'queue' ? undefined : options.drops
    const consumer = pkg === 'queue' && op === 'handle'
    const plan = planner(pkg, op, options)
    // Returns the context the operation runs in. When no span is made, that is the very store
    // already active (possibly undefined), so AsyncLocalStorage.run has nothing to switch.
    const begin = (payload: Carrier): Context | undefined => {
      const current = storage === undefined ? api.active() : storage.getStore()
      let parent = current ?? ROOT_CONTEXT
      let links: Link[] | undefined
      if (consumer) ({ parent, links } = consumerParent(payload))
      const unchanged = consumer ? parent : current
      if (isTracingSuppressed(parent)) return unchanged
      if (orphan && trace.getSpanContext(parent) === undefined) return unchanged
      if (drops?.(parent) === true) return unchanged
      const { name: spanName, kind, attributes } = plan(payload)
      // The samplers the kit builds (OTEL_TRACES_SAMPLER) never read attributes: they are set
      // once the span records, checked by the SDK once, where startSpan would check them before
      // and again after sampling; a span the sampler drops costs no attribute work at all.
      const span = tracer.startSpan(spanName, links ? { kind, links } : { kind }, parent)
      if (span.isRecording()) span.setAttributes(attributes)
      payload[SPAN] = span
      return trace.setSpan(parent, span)
    }
    const onStart = (payload: Carrier): void => void begin(payload)
    if (storage !== undefined) channel.start.bindStore(storage, begin as (payload: Carrier) => Context)
    else channel.start.subscribe(onStart as (message: unknown) => void)
    const stop = observeOperations<Carrier>(
      name,
      {
        finish(payload, outcome) {
          const span = payload[SPAN]
          if (span === undefined) return
          payload[SPAN] = undefined
          finishSpan(span, pkg, op, payload, outcome.error)
          span.end()
        },
      },
      { timed: false },
    )
    return () => {
      if (storage !== undefined) channel.start.unbindStore(storage)
      else channel.start.unsubscribe(onStart as (message: unknown) => void)
      stop()
    }
  }

  function traceEvent(name: string, pkg: string, op: string): () => void {
    const onEvent = (message: unknown): void => {
      const span = trace.getSpan(active())
      if (span === undefined || !span.isRecording()) return
      span.addEvent(`${pkg}.${op}`, payloadAttributes(pkg, (message ?? {}) as Carrier))
    }
    dc.subscribe(name, onEvent)
    return () => {
      dc.unsubscribe(name, onEvent)
    }
  }

  const seen = new Set<string>()
  const unwatch = watchChannels((name) => {
    if (seen.has(name)) return
    seen.add(name)
    const [, pkg = '', op = ''] = name.split(':')
    if (pkg === 'tracing' || excluded.has(pkg) || excluded.has(`${pkg}:${op}`)) return
    // diagnostics_channel has no way to tell a tracing channel from an event channel by name;
    // subscribing both ways costs nothing on the side that never publishes.
    const { gate, gated } = options
    const operation = () => traceOperation(name, pkg, op)
    // A queue is never gated: a consumer continues (or links to) a trace begun in another
    // process, with no span recording in this one. An HTTP call is: outside a recording span it
    // would make no span, and its traceparent comes from the active context anyway.
    const gateIt = gate !== undefined && pkg !== 'queue' && gated?.(pkg) === true
    stops.push(gateIt ? gate.add(operation) : operation(), traceEvent(name, pkg, op))
  })
  return function untrace() {
    unwatch()
    for (const stop of stops.splice(0)) stop()
  }
}
