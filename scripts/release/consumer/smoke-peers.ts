// The steps of the release check that need an optional peer installed (kysely,
// @opentelemetry/api); the drivers chosen by environment alone (ioredis, pg, mysql2, ...) reuse
// smoke.ts with BEAVER_* set. Run by scripts/release-check.ts with the lowest and the newest
// version of each peer its range accepts.
import { AsyncLocalStorage } from 'node:async_hooks'
import { once } from 'node:events'
import type { Context, ContextManager } from '@opentelemetry/api'
import { assert, runSteps, withServer, type Steps } from './run.ts'

/** Registers an AsyncLocalStorage context manager with the OpenTelemetry api and returns a span to run in. */
async function otelSpan(): Promise<<T>(fn: () => Promise<T>) => Promise<T>> {
  const api = await import('@opentelemetry/api')
  const storage = new AsyncLocalStorage<Context>()
  const manager: ContextManager = {
    active: () => storage.getStore() ?? api.ROOT_CONTEXT,
    with: (context, fn, thisArg, ...args) => storage.run(context, () => fn.call(thisArg, ...args)),
    bind: (_context, target) => target,
    enable() {
      return this
    },
    disable() {
      return this
    },
  }
  api.context.setGlobalContextManager(manager)
  const span = api.trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  })
  return (fn) => api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), fn)
}

/** Exports one span over OTLP/HTTP to a local server; resolves the path and content type it received. */
async function otlpExport(protocol: 'http/protobuf' | 'http/json'): Promise<string> {
  const { createServer } = await import('node:http')
  const { createTracing } = await import('@beaver-kit/tracing')
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers['content-type']}`)
    req.resume()
    req.on('end', () =>
      res.writeHead(200, { 'content-type': req.headers['content-type'] }).end(protocol === 'http/json' ? '{}' : ''),
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const tracing = createTracing({ envPrefix: false, otlp: { endpoint: `http://127.0.0.1:${port}`, protocol } })
  try {
    await tracing.ready()
    tracing.tracer.startSpan('smoke').end()
    await tracing.flush()
    assert(tracing.stats().exported === 1, `stats ${JSON.stringify(tracing.stats())}`)
    return seen.join()
  } finally {
    await tracing.close()
    server.close()
  }
}

const steps: Steps = {
  async 'tracing-otlp-proto'() {
    const seen = await otlpExport('http/protobuf')
    assert(seen === '/v1/traces application/x-protobuf', `received ${seen}`)
  },
  async 'tracing-otlp-json'() {
    const seen = await otlpExport('http/json')
    assert(seen === '/v1/traces application/json', `received ${seen}`)
  },
  async 'database-kysely'() {
    const { db } = await import('@beaver-kit/database')
    const { createKysely } = await import('@beaver-kit/database/kysely')
    // Statements through the kit's dialect, connection and driver: the introspector's, and a
    // query in a transaction (begin, query, commit) on the default SQLite database.
    const k = createKysely<{ sqlite_master: { name: string; type: string } }>(db())
    const tables = await k.introspection.getTables()
    assert(Array.isArray(tables), `getTables() returned ${JSON.stringify(tables)}`)
    const rows = await k.transaction().execute((trx) => trx.selectFrom('sqlite_master').select('name').execute())
    assert(Array.isArray(rows), `a select in a transaction returned ${JSON.stringify(rows)}`)
  },
  async 'logger-otel'() {
    const inSpan = await otelSpan()
    const { createLogger } = await import('@beaver-kit/logger')
    const lines: string[] = []
    const log = createLogger({
      envPrefix: false,
      otel: true,
      outputs: [],
      sinks: [{ write: (l: string) => void lines.push(l), format: 'json' }],
    })
    await inSpan(async () => log.info('inside a span'))
    await log.close()
    assert(lines.join('').includes('0af7651916cd43dd8448eb211c80319c'), `no trace_id in ${lines.join('')}`)
  },
  async 'http-otel'() {
    const inSpan = await otelSpan()
    const { createHttpClient } = await import('@beaver-kit/http')
    const client = createHttpClient({ envPrefix: false })
    try {
      const seen = await withServer(async (url, headers) => {
        await inSpan(() => client.get(url).text())
        return headers
      })
      const parent = String(seen[0]?.traceparent)
      assert(parent.includes('0af7651916cd43dd8448eb211c80319c'), `traceparent sent: ${parent}`)
    } finally {
      await client.close()
    }
  },
}

/** A minimal SMTP server (no TLS, no AUTH) that accepts every message; resolves its port and the count. */
async function smtpServer(): Promise<{ port: number; accepted: () => number; close: () => void }> {
  const { createServer } = await import('node:net')
  let accepted = 0
  const server = createServer((socket) => {
    let data = false
    let buffer = ''
    socket.write('220 localhost ESMTP smoke\r\n')
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1')
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        if (data) {
          if (line === '.') {
            data = false
            accepted++
            socket.write(`250 OK queued ${accepted}\r\n`)
          }
          continue
        }
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO') socket.write('250-localhost\r\n250 8BITMIME\r\n')
        else if (verb === 'DATA') {
          data = true
          socket.write('354 go ahead\r\n')
        } else if (verb === 'QUIT') socket.end('221 bye\r\n')
        else socket.write('250 OK\r\n')
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    close: () => void server.close(),
  }
}

/** A local HTTP endpoint answering every request with `reply`; resolves its URL and the bodies it got. */
interface Reply {
  status: number
  type: string
  body: string
}

/** A local HTTP endpoint answering every request with `reply` (or what it returns for the request body). */
async function endpoint(
  reply: Reply | ((body: string) => Reply),
): Promise<{ url: string; bodies: string[]; close: () => void }> {
  const { createServer } = await import('node:http')
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      bodies.push(body)
      const r = typeof reply === 'function' ? reply(body) : reply
      res.writeHead(r.status, { 'content-type': r.type })
      res.end(r.body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    bodies,
    close: () => void server.close(),
  }
}

Object.assign(steps, {
  async 'mail-smtp'() {
    const smtp = await smtpServer()
    const { createMailer } = await import('@beaver-kit/mail')
    try {
      await using mailer = createMailer({
        envPrefix: false,
        driver: 'smtp',
        smtp: { host: '127.0.0.1', port: smtp.port, security: 'none' },
      })
      const sent = await mailer.send({
        from: 'app@example.com',
        to: 'ada@example.com',
        subject: 'Smoke',
        html: '<p>hi <img src="cid:x"></p>',
        attachments: [{ filename: 'x.txt', content: 'x', cid: 'x' }],
      })
      assert(sent.messageId.includes('@') && smtp.accepted() === 1, `smtp send returned ${JSON.stringify(sent)}`)
    } finally {
      smtp.close()
    }
  },
  async 'mail-ses'() {
    const ses = await endpoint({ status: 200, type: 'application/json', body: '{"MessageId":"smoke-ses-1"}' })
    const { createMailer } = await import('@beaver-kit/mail')
    try {
      await using mailer = createMailer({
        envPrefix: false,
        driver: 'ses',
        ses: { region: 'us-east-1', endpoint: ses.url, accessKeyId: 'AKID', secretAccessKey: 'secret' },
      })
      const sent = await mailer.send({
        from: 'app@example.com',
        to: 'ada@example.com',
        subject: 'Smoke',
        text: 'hello',
        tags: ['smoke'],
      })
      const request = JSON.parse(ses.bodies[0] ?? '{}') as { Content?: { Raw?: { Data?: string } } }
      const raw = Buffer.from(request.Content?.Raw?.Data ?? '', 'base64').toString()
      assert(
        sent.messageId === 'smoke-ses-1' && raw.includes('Subject: Smoke'),
        `ses sent ${JSON.stringify(request).slice(0, 200)}`,
      )
    } finally {
      ses.close()
    }
  },
  async 'mail-mjml'() {
    const { createMailer } = await import('@beaver-kit/mail')
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'memory',
      templates: {
        inline: {
          news: {
            subject: 'Hi',
            mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>',
          },
        },
      },
    })
    const out = await mailer.render('news', { name: 'Ada' })
    assert(out.html?.includes('Hi Ada') === true, `mjml rendered ${out.html?.slice(0, 200)}`)
  },
  async 'sms-sns'() {
    const sns = await endpoint({
      status: 200,
      type: 'text/xml',
      body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>smoke-sns-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
    })
    const { createSms } = await import('@beaver-kit/sms')
    try {
      await using sms = createSms({
        envPrefix: false,
        driver: 'sns',
        sns: { region: 'us-east-1', endpoint: sns.url, accessKeyId: 'AKID', secretAccessKey: 'secret' },
      })
      const sent = await sms.send({ to: '+14155550100', body: 'hello' })
      assert(
        sent.messageId === 'smoke-sns-1' && (sns.bodies[0] ?? '').includes('Action=Publish'),
        `sns sent ${sns.bodies[0]}`,
      )
    } finally {
      sns.close()
    }
  },
  async 'queue-sns'() {
    // The sqs queue driver's fan-out: CreateTopic, then PublishBatch (SNS's query protocol).
    const arn = 'arn:aws:sns:us-east-1:000000000000:bq_smoke--orders'
    const ns = 'http://sns.amazonaws.com/doc/2010-03-31/'
    const meta = '<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>'
    const sns = await endpoint((body) => ({
      status: 200,
      type: 'text/xml',
      body: body.includes('Action=CreateTopic')
        ? `<CreateTopicResponse xmlns="${ns}"><CreateTopicResult><TopicArn>${arn}</TopicArn></CreateTopicResult>${meta}</CreateTopicResponse>`
        : `<PublishBatchResponse xmlns="${ns}"><PublishBatchResult><Successful><member><Id>0</Id><MessageId>m1</MessageId></member></Successful><Failed/></PublishBatchResult>${meta}</PublishBatchResponse>`,
    }))
    const { createQueue } = await import('@beaver-kit/queue')
    try {
      await using q = createQueue({
        envPrefix: false,
        driver: 'sqs',
        namespace: 'smoke',
        sqs: { endpoint: sns.url, region: 'us-east-1' },
        driverOptions: { credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } },
      })
      const id = await q.publishTopic('orders', { n: 1 })
      const published = sns.bodies.find((b) => b.includes('Action=PublishBatch')) ?? ''
      assert(
        sns.bodies[0]?.includes('Name=bq_smoke--orders') === true &&
          published.includes(encodeURIComponent(arn)) &&
          published.includes(id),
        `sns got ${sns.bodies.join(' | ')}`,
      )
    } finally {
      sns.close()
    }
  },
} satisfies Steps)

await runSteps(steps, [])
