import { defineChannels, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/sms; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('sms', {
  ready: tracing<{ driver: string }>('ready() checks the backend', 'driver'),
})
