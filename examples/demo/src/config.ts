import { defineSchema, f } from '@beaver-kit/config'

/** The demo's own settings: BEAVER_DEMO_*. The packages it uses read their own (BEAVER_DB_*, BEAVER_CACHE_*, ...). */
export const demoSchema = defineSchema(
  'DEMO',
  {
    host: f.string({ default: '127.0.0.1', doc: 'Interface the demo listens on' }),
    port: f.int({ default: 3000, min: 0, max: 65535, doc: 'Port the demo listens on (0 picks a free one)' }),
    baseUrl: f.url({ doc: 'Public base URL used in short links (default: http://host:port)' }),
    linkTtl: f.duration({ default: '10m', doc: 'How long a resolved link stays in the cache' }),
    notFoundTtl: f.duration({ default: '30s', doc: 'How long an unknown code is remembered as not found' }),
    fetchTitles: f.boolean({ default: true, doc: 'Fetch the title of each linked page in the background' }),
    titleTimeout: f.duration({ default: '5s', doc: 'Total time allowed to fetch a page title' }),
    titleConcurrency: f.int({
      default: 4,
      min: 1,
      max: 64,
      doc: 'Most title fetches running at once; a link created beyond that gets no title',
    }),
    titleAllow: f.list({
      default: [],
      doc: 'Hosts or CIDRs title fetches may reach although private (loopback, intranet); public addresses need nothing',
    }),
    linksPerMinute: f.int({
      default: 30,
      min: 1,
      max: 100_000,
      doc: 'Links one client (IP, or /56 for IPv6) may create per minute; past it 429 with Retry-After (also bounds title fetches per client)',
    }),
    adminPassword: f.string({
      secret: true,
      doc: 'Password of the queue dashboard at /admin/queues (HTTP Basic, any user name); unset: no dashboard',
    }),
    deleteLinkTtl: f.duration({ default: '1d', doc: 'Lifetime of the signed delete URL returned on creation' }),
    requestTimeout: f.duration({
      default: '15s',
      doc: 'Longest a client may take to send a whole request (408 after)',
    }),
    headersTimeout: f.duration({ default: '10s', doc: 'Longest a client may take to send the request headers' }),
    admins: f.list({
      default: [],
      doc: 'E-mail addresses given the admin role when they register or first sign in (admins delete any link and read the audit trail)',
    }),
    devOidc: f.boolean({
      default: true,
      doc: 'Offer sign-in through a local OpenID Provider started on first use (GET /auth/oidc); never under NODE_ENV=production',
    }),
    cacheRetry: f.duration({
      default: '5s',
      doc: 'While the cache is unreachable (links come from the database), how often it is probed',
    }),
  },
  'Beaver Links demo',
)
