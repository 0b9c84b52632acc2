import { defineChannels, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/tracing; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('tracing', {
  ready: tracing<{ driver: string }>('ready() checks the backend', 'driver'),
})
