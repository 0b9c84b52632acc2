import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace'
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
