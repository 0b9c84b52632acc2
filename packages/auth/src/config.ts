import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

const TABLE = /^[a-z_][a-z0-9_]{0,40}$/

/** Every BEAVER_AUTH_* setting: the one source of names, defaults, validation and the README table. */
export const authSchema = defineSchema(
  'AUTH',
  {
    store: f.enum({
      values: ['memory', 'database'],
      default: 'memory',
      doc: 'Where accounts and tokens live: memory (this process, tests and demos) or database (PostgreSQL, MariaDB, SQLite)',
    }),
    issuer: f.string({ doc: 'iss of access tokens, required on verification' }),
    audience: f.string({ doc: 'aud of access tokens, required on verification' }),
    accessTtl: f.duration({ default: '15m', doc: 'Lifetime of JWT access tokens' }),
    refreshTtl: f.duration({
      default: '30d',
      doc: 'Lifetime of a refresh token (each rotation starts a new one)',
    }),
    familyTtl: f.duration({
      default: '90d',
      doc: 'Absolute lifetime of a refresh family: after it, sign in again whatever the rotations',
    }),
    resetTtl: f.duration({ default: '1h', doc: 'Lifetime of a password-reset token' }),
    verifyTtl: f.duration({
      default: '2d',
      doc: 'Lifetime of an e-mail verification token and of a requestSignUp() link',
    }),
    password: {
      minLength: f.int({ default: 12, min: 8, max: 128, doc: 'Shortest password accepted, in characters' }),
      maxLength: f.int({
        default: 128,
        min: 16,
        max: 1024,
        doc: 'Longest password accepted, in characters (bounds the hashing cost an attacker can ask for)',
      }),
    },
    lockout: {
      threshold: f.int({
        default: 5,
        min: 1,
        max: 1000,
        doc: 'Failed logins of one account before it is delayed',
      }),
      ipThreshold: f.int({
        default: 20,
        min: 1,
        max: 100_000,
        doc: 'Failed logins from one client IP before it is delayed',
      }),
      baseDelay: f.duration({
        default: '30s',
        doc: 'First delay once the threshold is reached; it doubles with each further failure',
      }),
      maxDelay: f.duration({
        default: '15m',
        doc: 'Longest delay: the lock is a backoff that ends, never a permanent lock',
      }),
      forgetAfter: f.duration({
        default: '1d',
        doc: 'Failures older than this no longer count',
      }),
    },
    rateLimit: {
      limit: f.int({ default: 10, min: 1, max: 100_000, doc: 'Login attempts per client IP and window' }),
      window: f.duration({ default: '1m', doc: 'Window of the login rate limit' }),
    },
    apiKey: {
      prefix: f.string({
        default: 'bk_',
        pattern: /^[a-z][a-z0-9_]{0,15}$/,
        doc: 'Start of every API key, so a leaked key is found by secret scanners and grep',
      }),
      rateLimit: f.int({
        default: 0,
        min: 0,
        max: 1_000_000,
        doc: 'Requests per minute one API key may make (0: no per-key limit)',
      }),
    },
    db: {
      url: f.url({
        protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file'],
        doc: 'Database of the database store (default: the default db() of @beaver-kit/database)',
      }),
      table: f.string({
        default: 'beaver_auth',
        pattern: TABLE,
        doc: 'Prefix of the tables of the database store (<table>_users, <table>_refresh, ...)',
      }),
    },
  },
  'auth',
)

export type AuthSettings = SchemaOptions<typeof authSchema>
