import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** A stream name: letters, digits and `_ . : -`, up to 128 characters. */
export const STREAM_NAME = /^[A-Za-z0-9_.:-]{1,128}$/

/** Every BEAVER_AUDIT_* setting: the one source of names, defaults, validation and the README table. */
export const auditSchema = defineSchema(
  'AUDIT',
  {
    store: f.enum({
      values: ['database', 'memory', 'none'],
      default: 'database',
      doc: 'Where records are kept: database (PostgreSQL, MariaDB, SQLite via @beaver-kit/database), memory (this process), none (log only)',
    }),
    log: f.boolean({
      default: false,
      doc: 'Also write every record to the log stream (@beaver-kit/logger, level info, message "audit")',
    }),
    stream: f.string({
      default: 'default',
      pattern: STREAM_NAME,
      doc: 'Stream of record() calls that name none; each stream is a hash chain of its own',
    }),
    maxEventSize: f.bytes({
      default: '64kb',
      doc: 'Largest serialized diff + metadata of one record; a larger one is refused with AUDIT_EVENT_TOO_LARGE',
    }),
    pageSize: f.int({
      default: 100,
      min: 1,
      max: 10_000,
      doc: 'Records per query() page when the call names no limit',
    }),
    maxPageSize: f.int({ default: 1000, min: 1, max: 10_000, doc: 'Most records one query() page returns' }),
    redactKeys: f.list({
      default: ['default'],
      doc: 'Key names censored in before/after and metadata at any depth (the logger rule: default is the kit-wide secret-name rule; none turns it off)',
    }),
    redact: f.list({ default: [], doc: 'Paths censored in metadata, pino syntax: card.number,items[*].token' }),
    censor: f.string({ default: '[REDACTED]', doc: 'What replaces a redacted value' }),
    retention: f.duration({
      default: 0,
      doc: 'Records older than this are pruned every hour, keeping each chain verifiable from a checkpoint (0 = keep forever)',
    }),
    anchor: {
      key: f.string({
        secret: true,
        doc: 'Key that signs anchors (needs @beaver-kit/krypto): a secret for HS256, or a PEM/JWK private key',
      }),
      algorithm: f.enum({
        values: ['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
        default: 'HS256',
        doc: 'JWS algorithm of the anchor signatures',
      }),
      interval: f.duration({
        default: 0,
        doc: 'Every stream with new records gets a signed anchor this often (0 = only when anchor() is called)',
      }),
    },
    db: {
      url: f.url({
        protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file'],
        doc: 'Database of the database store (default: the default db() of @beaver-kit/database, SQLite ./data/beaver.db)',
      }),
      table: f.string({
        default: 'beaver_audit',
        pattern: /^[a-z_][a-z0-9_]{0,40}$/,
        doc: 'Prefix of the audit tables (<table>_events, _heads, _anchors, _migrations)',
      }),
    },
  },
  'audit',
)

export type AuditSettings = SchemaOptions<typeof auditSchema>
