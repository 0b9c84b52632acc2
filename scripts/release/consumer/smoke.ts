// The consumer's script of the release check (scripts/release-check.ts): copied into a fresh
// project where only the packed tarballs are installed (no optional peer), type-checked there
// with `skipLibCheck: false` under nodenext and bundler resolution, compiled, and run on Node 24
// and on every package's declared floor. Each step does one real operation on embedded defaults
// (or on the driver the environment selects: the peer check reuses them with BEAVER_* set).
import { randomUUID } from 'node:crypto'
import { retry } from '@beaver-kit/core'
import { defineSchema, f, resolveConfig } from '@beaver-kit/config'
import type { SpanExporter } from '@beaver-kit/tracing'
import { assert, runSteps, withServer, type Steps } from './run.ts'

const steps: Steps = {
  async core() {
    let attempts = 0
    const value = await retry(
      async () => {
        if (++attempts < 3) throw Object.assign(new Error('transient'), { code: 'ECONNRESET' })
        return attempts
      },
      { maxAttempts: 3, baseMs: 5 },
    )
    assert(value === 3, `retry returned ${value}`)
  },
  async config() {
    const schema = defineSchema('SMOKE', { timeout: f.duration({ default: '5s', doc: 'a duration' }) })
    const { values } = resolveConfig(schema, { env: { BEAVER_SMOKE_TIMEOUT: '250ms' } })
    assert(values.timeout === 250, `BEAVER_SMOKE_TIMEOUT=250ms resolved to ${values.timeout}`)
  },
  async logger() {
    const { createLogger } = await import('@beaver-kit/logger')
    const lines: string[] = []
    const log = createLogger({
      envPrefix: false,
      outputs: [],
      sinks: [{ write: (l: string) => void lines.push(l), format: 'json' }],
    })
    log.info({ password: 'hunter2', user: 'ada' }, 'hello')
    await log.close()
    const line = lines.join('')
    assert(line.includes('"user":"ada"') && !line.includes('hunter2'), `logged ${line}`)
  },
  async database() {
    const { db, sql } = await import('@beaver-kit/database')
    const row = await db().one<{ n: number | string }>(sql`SELECT ${41} + 1 AS n`)
    assert(Number(row.n) === 42, `SELECT 41 + 1 gave ${JSON.stringify(row)}`)
  },
  async cache() {
    const { cache } = await import('@beaver-kit/cache')
    const key = `smoke:${randomUUID()}`
    await cache().set(key, { n: 1 }, { ttl: '1m' })
    const value = await cache().get<{ n: number }>(key)
    await cache().delete(key)
    assert(value?.n === 1, `get returned ${JSON.stringify(value)}`)
  },
  async tracing() {
    const { createTracing } = await import('@beaver-kit/tracing')
    const { createCache } = await import('@beaver-kit/cache')
    const names: string[] = []
    const exporter: SpanExporter = {
      export(spans, done) {
        names.push(...spans.map((s) => s.name))
        done({ code: 0 })
      },
      shutdown: async () => undefined,
    }
    const tracing = createTracing({ envPrefix: false, exporter })
    const cache = createCache({ envPrefix: false, driver: 'memory' })
    await tracing.tracer.startActiveSpan('smoke', async (span) => {
      await cache.get('k')
      span.end()
    })
    await cache.close()
    await tracing.close()
    assert(names.join() === 'cache.get,smoke', `exported ${names.join()}`)
  },
  async queue() {
    const { createQueue } = await import('@beaver-kit/queue')
    const q = createQueue({ namespace: `smoke_${randomUUID().slice(0, 8)}` })
    const got = new Promise<unknown>((resolve) => {
      void q.consume('smoke', (m) => resolve(m.payload))
    })
    await q.publish('smoke', { n: 1 })
    const payload = await got
    await q.close()
    assert((payload as { n?: number }).n === 1, `consumed ${JSON.stringify(payload)}`)
  },
  async ratelimit() {
    const { createLimiter } = await import('@beaver-kit/ratelimit')
    const l = createLimiter({ namespace: `smoke_${randomUUID().slice(0, 8)}`, limit: 2 })
    const seen = [await l.limit('k'), await l.limit('k'), await l.limit('k')].map((d) => d.allowed)
    await l.close()
    assert(JSON.stringify(seen) === '[true,true,false]', `decisions ${JSON.stringify(seen)}`)
  },
  async auth() {
    // Zero config: memory store, a random signing key; register, log in, rotate, authenticate.
    const { createAuth } = await import('@beaver-kit/auth')
    await using a = createAuth({ envPrefix: false, limiter: false })
    const user = await a.register({ email: 'smoke@example.com', password: 'correct horse battery staple' })
    const pair = await a.login({ email: 'smoke@example.com', password: 'correct horse battery staple' })
    const next = await a.refresh(pair.refreshToken)
    const reused = await a.refresh(pair.refreshToken).then(
      () => 'accepted',
      (e: unknown) => String((e as { code?: string }).code),
    )
    const who = await a.authenticate({ headers: { authorization: `Bearer ${next.accessToken}` } })
    assert(who?.userId === user.id && reused === 'AUTH_REFRESH_REUSED', `auth gave ${JSON.stringify({ who, reused })}`)
  },
  async audit() {
    // The store BEAVER_AUDIT_STORE selects (the database, SQLite by default): two records, a
    // verified chain, one query page.
    const { createAudit } = await import('@beaver-kit/audit')
    const a = createAudit()
    const stream = `smoke_${randomUUID().slice(0, 8)}`
    await a.record({ stream, action: 'smoke.create', actor: 'user:1', metadata: { password: 'p' } })
    const second = await a.record({ stream, action: 'smoke.delete', actor: 'user:1' })
    const check = await a.verify({ stream })
    const page = await a.query({ stream, actor: 'user:1' })
    await a.close()
    assert(second.seq === 2 && check.ok && check.checked === 2, `seq ${second.seq}, verify ${JSON.stringify(check)}`)
    assert(page.records.length === 2 && JSON.stringify(page).includes('[REDACTED]'), `query ${JSON.stringify(page)}`)
  },
  async session() {
    const { createSessions } = await import('@beaver-kit/session')
    const s = createSessions()
    const session = await s.load({ headers: {} })
    session.set('n', 1)
    const set: string[] = []
    await s.commit(session, { appendHeader: (_n: string, v: string | string[]) => set.push(...[v].flat()) })
    const again = await s.load({ headers: { cookie: (set[0] ?? '').split(';')[0] } })
    assert(again.get('n') === 1, `session read back ${JSON.stringify(again.all())}`)
    await s.close()
  },
  async scheduler() {
    // The store BEAVER_SCHEDULER_STORE selects (memory by default): one manual run, recorded.
    const { createScheduler } = await import('@beaver-kit/scheduler')
    const s = createScheduler({ namespace: `smoke_${randomUUID().slice(0, 8)}`, pollInterval: '100ms' })
    const ran = new Promise<string>((resolve) => {
      s.schedule('smoke', '@yearly', ({ trigger }) => resolve(trigger))
    })
    await s.trigger('smoke')
    const trigger = await ran
    const [run] = await s.history('smoke')
    await s.close()
    assert(trigger === 'manual' && run?.trigger === 'manual', `ran ${trigger}, history ${JSON.stringify(run)}`)
  },
  async http() {
    const { http } = await import('@beaver-kit/http')
    const text = await withServer((url) => http().get(url).text())
    assert(text === 'pong', `GET returned ${text}`)
  },
  async krypto() {
    const { krypto } = await import('@beaver-kit/krypto')
    const hash = await krypto().passwords.hash('correct horse battery staple')
    assert(await krypto().passwords.verify(hash, 'correct horse battery staple'), 'password did not verify')
  },
  async oauth() {
    // A GitHub sign-in URL (no discovery, so no network): PKCE S256 and a browser-bound state.
    const { createOAuth, isOAuthError } = await import('@beaver-kit/oauth')
    const oauth = createOAuth({
      envPrefix: false,
      providers: { github: { clientId: 'smoke', clientSecret: 'smoke-secret', redirectUri: 'https://app.example/cb' } },
    })
    const { url, cookie } = await oauth.authorize('github', { returnTo: '/me' })
    const params = new URL(url).searchParams
    assert(params.get('code_challenge_method') === 'S256' && cookie.options.httpOnly, `authorize gave ${url}`)
    const refused = await oauth
      .callback('github', { params: { state: params.get('state') ?? '', code: 'c' }, binding: 'another-browser' })
      .catch((error: unknown) => error)
    assert(isOAuthError(refused, 'OAUTH_STATE_MISMATCH'), `a foreign binding gave ${String(refused)}`)
    await oauth.close()
  },
  async mail() {
    // The default transport (log outside production), or the one BEAVER_MAIL_* selects.
    const { mailer } = await import('@beaver-kit/mail')
    const sent = await mailer().send({
      from: 'app@example.com',
      to: 'ada@example.com',
      subject: 'Smoke',
      text: 'hello',
    })
    assert(sent.messageId !== '' && sent.accepted.includes('ada@example.com'), `send returned ${JSON.stringify(sent)}`)
  },
  async sms() {
    const { createSms } = await import('@beaver-kit/sms')
    await using sms = createSms({ envPrefix: false, driver: 'memory' })
    const sent = await sms.send({ to: '+1 (415) 555-0100', from: '+15005550006', body: 'hello' })
    assert(sms.expectSent({ to: '+14155550100' }).messageId === sent.messageId, `send returned ${JSON.stringify(sent)}`)
  },
  async delivery() {
    const { createMemorySuppressionList, verifySvix } = await import('@beaver-kit/delivery')
    const list = createMemorySuppressionList()
    await list.add('ada@example.com', { reason: 'complaint' })
    assert((await list.check(['ada@example.com', 'bob@example.com'])).size === 1, 'suppression check')
    assert(!verifySvix({ secret: 'whsec_c2VjcmV0', headers: {}, body: '{}' }).ok, 'an unsigned request verified')
  },
  async metrics() {
    const { createMetrics } = await import('@beaver-kit/metrics')
    const { createCache } = await import('@beaver-kit/cache')
    const m = createMetrics({ envPrefix: false })
    const c = createCache({ envPrefix: false, driver: 'memory', namespace: 'smoke' })
    await c.get('missing')
    m.counter({ name: 'smoke_total', help: 'Smoke', labelNames: ['step'] }).inc({ step: 'metrics' })
    const text = await m.render()
    await c.close()
    await m.close()
    assert(text.includes('smoke_total{step="metrics"} 1'), 'custom counter missing from the exposition')
    assert(
      text.includes('beaver_cache_requests_total{driver="memory",namespace="smoke",result="miss"} 1'),
      'kit cache metric missing',
    )
  },
  async health() {
    const { createHealth, memoryCheck } = await import('@beaver-kit/health')
    const h = createHealth({ envPrefix: false, kit: false })
    h.register('memory', memoryCheck(), { probe: 'liveness' })
    h.register('dependency', () => ({ status: 'degraded', detail: 'slow' }), { critical: false })
    const report = await h.checkNow()
    const live = h.probe('liveness')
    h.drain()
    const draining = h.probe('readiness')
    await h.close()
    assert(report.ok && report.status === 'degraded', `readiness was ${JSON.stringify(report)}`)
    assert(live.ok && !draining.ok && draining.status === 'draining', 'liveness/draining wrong')
  },
  async storage() {
    const { mkdtemp, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { createStorage } = await import('@beaver-kit/storage')
    const root = await mkdtemp(join(tmpdir(), 'smoke-storage-'))
    try {
      await using files = createStorage({ envPrefix: false, local: { root } })
      await files.put('a/b.json', '{"n":1}', { metadata: { k: 'v' } })
      const stat = await files.stat('a/b.json')
      const back = await files.getJson<{ n: number }>('a/b.json')
      const escaped = await files.get('../x').then(
        () => 'read',
        (e: unknown) => String((e as { code?: string }).code),
      )
      assert(
        back.n === 1 &&
          stat.metadata.k === 'v' &&
          stat.contentType === 'application/json' &&
          escaped === 'STORAGE_PATH_INVALID',
        `storage gave ${JSON.stringify({ back, stat, escaped })}`,
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  },
  async 'database-kysely-missing'() {
    // Without kysely installed, the subpath must say what to install, not fail with a raw
    // ERR_MODULE_NOT_FOUND. A variable specifier keeps TypeScript from resolving the subpath.
    const specifier: string = '@beaver-kit/database/kysely'
    const error = await import(specifier).then(
      () => undefined,
      (e: unknown) => e,
    )
    const text = String((error as Error | undefined)?.message)
    assert(text.includes('npm install kysely'), `importing ${specifier} without kysely: ${String(error)}`)
  },
}

await runSteps(steps, Object.keys(steps))
