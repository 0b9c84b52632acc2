import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/metrics; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('metrics', {
  render: tracing<{ format: string; cluster: boolean }>('One exposition rendered (a scrape)', 'format, cluster'),
  labelOverflow: event<{ metric: string; label: string; max: number }>(
    'A label reached its cap of distinct values; this and later new values are recorded as "other"',
    'metric, label, max',
  ),
})
