import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace'
import { trace, TraceFlags, type Context } from '@opentelemetry/api'
import type { SAMPLERS } from './config.ts'

/** The SDK sampler for an `OTEL_TRACES_SAMPLER` name and its ratio (default 1). */
export function buildSampler(name: (typeof SAMPLERS)[number], ratio = 1): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio)
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

/** The sampler's description, as describe() shows it: `parentbased_traceidratio(0.1)`. */
export function samplerText(name: string, ratio: number | undefined): string {
  return name.endsWith('traceidratio') ? `${name}(${ratio ?? 1})` : name
}

/**
 * For the samplers whose answer is certain before a span exists, a test that says "this span
 * would be dropped" from its parent alone: a parent-based sampler under an unsampled parent, and
 * any sampler that drops every root (always_off, a ratio of 0). Kit spans use it to skip the
 * span, its ids and its context altogether. Undefined when only the SDK can tell (a ratio
 * between 0 and 1 decides on the trace id).
 */
export function certainDrop(name: (typeof SAMPLERS)[number], ratio = 1): ((parent: Context) => boolean) | undefined {
  const rootDrops = dropsEveryRoot(name, ratio)
  if (!name.startsWith('parentbased_')) return rootDrops ? () => true : undefined
  return (parent) => {
    const sc = trace.getSpanContext(parent)
    if (sc === undefined || !trace.isSpanContextValid(sc)) return rootDrops
    return (sc.traceFlags & TraceFlags.SAMPLED) === 0
  }
}

/**
 * Which packages' operations can only ever be recorded as children of a span recording in this
 * process: under a parent-based sampler, those of a package traced only inside a trace
 * (`requireParent`), and every package when the sampler drops every root; under any other sampler,
 * every package only when it drops everything. Their channels then need no subscriber while no
 * span records (see `RecordingGate`).
 */
export function recordedOnlyInTrace(
  name: (typeof SAMPLERS)[number],
  ratio: number | undefined,
  requireParent: readonly string[],
): (pkg: string) => boolean {
  if (dropsEveryRoot(name, ratio ?? 1)) return () => true
  if (!name.startsWith('parentbased_')) return () => false
  const inside = new Set(requireParent)
  return (pkg) => inside.has(pkg)
}

function dropsEveryRoot(name: (typeof SAMPLERS)[number], ratio: number): boolean {
  return name.endsWith('always_off') || (name.endsWith('traceidratio') && !(ratio > 0))
}
