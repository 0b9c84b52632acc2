import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/tracing; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('tracing', {
  ready: tracing<{ exporter: string }>(
    'ready(): the exporter’s library loaded (a missing optional peer fails here)',
    'exporter',
  ),
  exportFailed: event<{ exporter: string; spans: number; error: unknown }>(
    'An export failed (collector down, refused or slow); the spans are counted in stats().failed',
    'exporter, spans, error',
  ),
})
