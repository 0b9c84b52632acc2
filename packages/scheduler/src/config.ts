import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Every BEAVER_SCHEDULER_* setting: the one source of names, defaults, validation and the README table. */
export const schedulerSchema = defineSchema(
  'SCHEDULER',
  {
    store: f.string({
      default: 'memory',
      minLength: 1,
      doc: 'Where claims, history and controls live: memory (this process only), sqlite, postgres, mysql, redis, or a registered store',
    }),
    namespace: f.string({
      default: 'default',
      pattern: NAME,
      doc: 'Scope of every schedule name (letters, digits, _ and -): two namespaces never share a claim',
    }),
    timezone: f.string({
      default: 'UTC',
      minLength: 1,
      doc: 'IANA time zone of cron expressions and at() times when a schedule names none (Europe/Berlin)',
    }),
    leaseTtl: f.duration({
      default: '30s',
      doc: 'How long a claim holds without renewal; a run whose process died is marked abandoned after it',
    }),
    missed: f.enum({
      values: ['skip', 'once', 'all'],
      default: 'skip',
      doc: 'Occurrences missed while no instance ran: skip them, run the latest once, or run them all (up to MAX_CATCHUP)',
    }),
    maxCatchup: f.int({ default: 10, min: 1, max: 1000, doc: 'Most missed occurrences the "all" policy runs' }),
    grace: f.duration({
      default: '1m',
      doc: 'How late an occurrence may start before it counts as missed (and health() calls it overdue)',
    }),
    historyRetention: f.duration({ default: '30d', doc: 'How long run history is kept' }),
    historyMax: f.int({ default: 1000, min: 1, max: 1_000_000, doc: 'Most history rows kept per schedule' }),
    pollInterval: f.duration({
      default: '1s',
      doc: 'How often an instance reads pause/resume/trigger/remove requests from the store',
    }),
    drainTimeout: f.duration({
      default: '30s',
      doc: 'How long close() waits for running handlers before it aborts their signal',
    }),
    db: {
      url: f.url({
        protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file'],
        doc: 'Database of the sqlite/postgres/mysql stores (default: the default db() of @beaver-kit/database)',
      }),
      table: f.string({
        default: 'beaver_scheduler',
        pattern: /^[a-z_][a-z0-9_]{0,40}$/,
        doc: 'Prefix of the scheduler’s tables (<table>_runs, <table>_control, <table>_migrations)',
      }),
    },
    redis: {
      url: f.url({ protocols: ['redis', 'rediss'], default: 'redis://127.0.0.1:6379', doc: 'Redis URL' }),
      password: f.string({ secret: true, doc: 'Redis password (overrides the URL)' }),
      prefix: f.string({ default: 'bsched', pattern: NAME, doc: 'First segment of every Redis key' }),
    },
  },
  'scheduler',
)

export type SchedulerSettings = SchemaOptions<typeof schedulerSchema>
