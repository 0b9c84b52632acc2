import { defineSchema, f } from '@beaver-kit/config'

/** The demo's own settings: BEAVER_DEMO_*. */
export const demoSchema = defineSchema(
  'DEMO',
  {
    host: f.string({ default: '127.0.0.1', doc: 'Interface the demo listens on' }),
    port: f.int({ default: 3000, min: 0, max: 65535, doc: 'Port the demo listens on (0 picks a free one)' }),
    baseUrl: f.url({ doc: 'Public base URL used in short links (default: http://host:port)' }),
  },
  'Beaver Links demo',
)
