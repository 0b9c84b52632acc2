import { defineSchema, f, redisTopologyFields, type SchemaOptions } from '@beaver-kit/config'

/** Every BEAVER_SESSION_* setting: the one source of names, defaults, validation and the README table. */
export const sessionsSchema = defineSchema(
  'SESSION',
  {
    mode: f.enum({
      values: ['store', 'cookie'],
      default: 'store',
      doc: 'store: data in a kit cache, a sealed id in the cookie; cookie: the data itself sealed in the cookie (stateless)',
    }),
    store: f.enum({
      values: ['cache', 'redis'],
      default: 'cache',
      doc: 'Where the store mode and the per-user index keep sessions: cache (a kit cache, the default cache() unless given) or redis (directly: a save is one round trip)',
    }),
    keys: f.list({
      secret: true,
      doc: 'Key ring sealing the cookies (krypto format `kid:base64key`, current first); unset: a random key per process, refused when NODE_ENV=production',
    }),
    cookieName: f.string({
      pattern: /^[A-Za-z0-9_-]{1,64}$/,
      doc: 'Cookie name (default `__Host-sid` when secure with path / and no domain, else `sid`)',
    }),
    ttl: f.duration({ default: '24h', doc: 'Idle timeout: a session not seen for this long ends' }),
    absolute: f.duration({
      default: '7d',
      doc: 'Absolute timeout: a session ends this long after login, however active',
    }),
    rolling: f.boolean({ default: true, doc: 'Extend the idle timeout when less than half of it is left' }),
    secure: f.boolean({ default: true, doc: 'Secure cookies (HTTPS only); set false only for http on localhost' }),
    sameSite: f.enum({ values: ['lax', 'strict', 'none'], default: 'lax', doc: 'SameSite of the cookie' }),
    domain: f.string({ doc: 'Domain of the cookie (default: host-only)' }),
    path: f.string({ default: '/', doc: 'Path of the cookie' }),
    namespace: f.string({
      default: 'session',
      pattern: /^[A-Za-z0-9_-]{1,64}$/,
      doc: 'Cache namespace (or Redis key prefix) of the store mode and of the per-user index',
    }),
    compress: f.boolean({
      default: false,
      doc: 'Cookie mode: deflate the session before sealing it (when smaller). Off by default: where an attacker can put data into a session beside a secret and watch the cookie size, compression leaks how well they match',
    }),
    maxDataBytes: f.bytes({
      default: '64kb',
      doc: 'Cookie mode: largest session (as JSON) written or, after inflating, read; bounds what a cookie can cost to open',
    }),
    maxCookieBytes: f.bytes({
      default: '16kb',
      doc: 'Largest sealed session the cookie mode writes (split into 3,800-byte cookies); larger is an error',
    }),
    redis: {
      url: f.url({
        protocols: ['redis', 'rediss'],
        default: 'redis://127.0.0.1:6379',
        doc: 'Redis of the redis store (its key prefix is the namespace)',
      }),
      ...redisTopologyFields(),
    },
  },
  'session',
)

export type SessionsSettings = SchemaOptions<typeof sessionsSchema>
