import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

const PATH = /^\/\S*$/

/** Every BEAVER_HEALTH_* setting: the one source of names, defaults, validation and the README table. */
export const healthSchema = defineSchema(
  'HEALTH',
  {
    interval: f.duration({
      default: '10s',
      doc: 'How often each check runs in the background; probes answer from the last result',
    }),
    timeout: f.duration({ default: '2s', doc: 'How long one check may run before it counts as failed' }),
    failureThreshold: f.int({
      default: 3,
      min: 1,
      max: 1000,
      doc: 'Consecutive failures before a check that had passed counts as down',
    }),
    drainDelay: f.duration({
      default: '15s',
      doc: 'On SIGTERM: how long readiness fails while the server still serves (with core’s 10 s close deadline, inside Kubernetes’ 30 s grace)',
    }),
    kit: f.boolean({
      default: true,
      doc: 'Check every kit default instance (database, cache, queue, ...) with its ready() as it is created',
    }),
    verbose: f.boolean({
      default: false,
      doc: 'Put each failed check’s error message in probe responses (off: statuses only, nothing about your hosts)',
    }),
    livePath: f.string({ default: '/livez', pattern: PATH, doc: 'Liveness probe path' }),
    readyPath: f.string({ default: '/readyz', pattern: PATH, doc: 'Readiness probe path' }),
    startupPath: f.string({ default: '/startupz', pattern: PATH, doc: 'Startup probe path' }),
  },
  'health',
)

export type HealthSettings = SchemaOptions<typeof healthSchema>
