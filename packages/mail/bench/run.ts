// Side by side, in one process and run (../shared/anchors/performance-anchors.md §11):
//  - SMTP throughput: the kit's smtp transport (pooled, 5 connections) against nodemailer's own
//    pool with the same settings, and the raw floor (pipelined SMTP over 5 sockets), sending to
//    an smtp-server sink in a child process (CPU 1 when taskset exists): 2 KiB text messages,
//    and 50 KiB messages with an attachment. Each contender sends N messages the way its users
//    do: the kit through sendBatch, nodemailer through Promise.all over sendMail.
//  - Template render: mailer.render() against the same Handlebars templates compiled and
//    called directly (subject, html in a layout, text).
import { fork, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import Handlebars from 'handlebars'
import nodemailer from 'nodemailer'
import { isQuick, runBench, type Measurement } from '@beaver-kit/testkit/bench'
import { createMailer, type MailMessage } from '@beaver-kit/mail'
import { nodemailerOptions } from '@beaver-kit/mail/smtp'
import { rawSmtp } from './floor.ts'

const versionOf = (pkg: string): string =>
  (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version
// 10,000 messages per contender in the run, sent as 5 interleaved rounds of 2,000 (the
// harness's median of per-round ratios needs rounds, and the shared machine a run within
// about three minutes). The attachment case moves 25x the bytes per message: a fifth of that.
const ROUNDS = 5
const TOTAL = isQuick() ? 1000 : 10_000
const COUNT = isQuick() ? TOTAL : TOTAL / ROUNDS
const ATTACHMENT_COUNT = COUNT / 5
const CONNECTIONS = 5
const IN_FLIGHT = 100

// The sink, pinned to CPU 1 when taskset is there.
const pinned = spawnSync('taskset', ['--version']).status === 0
const sinkScript = fileURLToPath(new URL('./sink.ts', import.meta.url))
const sink = fork(sinkScript, [], {
  execArgv: ['--conditions=@beaver-kit/source'],
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  ...(pinned
    ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath, '--conditions=@beaver-kit/source'] }
    : {}),
})
const port = await new Promise<number>((resolve) =>
  sink.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
)

const text2k = 'Hello Ada,\n\n' + 'Your order has shipped and is on its way to you. '.repeat(40).slice(0, 2048)
const attachment = randomBytes(50 * 1024)
const messages: Record<string, MailMessage> = {
  text: { from: 'Beaver App <app@example.com>', to: 'ada@example.com', subject: 'Your order', text: text2k },
  attachment: {
    from: 'Beaver App <app@example.com>',
    to: 'ada@example.com',
    subject: 'Your invoice',
    text: 'The invoice is attached.',
    attachments: [{ filename: 'invoice.pdf', content: attachment, contentType: 'application/pdf' }],
  },
}
const smtp = { host: '127.0.0.1', port, security: 'none' as const, maxConnections: CONNECTIONS, maxMessages: Infinity }

function measured(latencies: number[], ms: number): Measurement {
  latencies.sort((a, b) => a - b)
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number
  return { opsPerSec: (latencies.length * 1000) / ms, p50Ms: q(0.5), p99Ms: q(0.99) }
}

async function kit(message: MailMessage, count: number): Promise<Measurement> {
  await using mailer = createMailer({
    envPrefix: false,
    driver: 'smtp',
    smtp: { ...smtp, maxMessages: 1_000_000 },
    suppression: { enabled: false },
  })
  await mailer.ready()
  const latencies: number[] = []
  const start = performance.now()
  const timed = async (m: MailMessage) => {
    const t0 = performance.now()
    const r = await mailer.send(m)
    latencies.push(performance.now() - t0)
    return r
  }
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < count) await timed(message)
    }),
  )
  return measured(latencies, performance.now() - start)
}

async function rival(message: MailMessage, count: number): Promise<Measurement> {
  const transporter = nodemailer.createTransport({
    ...nodemailerOptions({ ...smtp, maxMessages: 1_000_000 }),
  } as Parameters<typeof nodemailer.createTransport>[0])
  await transporter.verify()
  const latencies: number[] = []
  const start = performance.now()
  const plain = message.attachments
    ? { ...message, attachments: [{ filename: 'invoice.pdf', content: attachment, contentType: 'application/pdf' }] }
    : message
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < count) {
        const t0 = performance.now()
        await transporter.sendMail(plain as Parameters<typeof transporter.sendMail>[0])
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const m = measured(latencies, performance.now() - start)
  transporter.close()
  return m
}

// The floor sends what nodemailer would have built, captured once.
async function rendered(message: MailMessage): Promise<string> {
  const stream = nodemailer.createTransport({ streamTransport: true, buffer: true })
  const info = await stream.sendMail(message as Parameters<typeof stream.sendMail>[0])
  return (info.message as Buffer).toString('latin1')
}
const bodies = {
  text: await rendered(messages.text as MailMessage),
  attachment: await rendered(messages.attachment as MailMessage),
}
async function floor(body: string, count: number): Promise<Measurement> {
  const start = performance.now()
  const latencies = await rawSmtp(port, CONNECTIONS, count, body)
  return measured(latencies, performance.now() - start)
}

// Templates: one template with subject, html (in a layout, with a partial) and text, and no
// helpers, so the comparison is the kit's own cost around Handlebars.
const sources = {
  subject: 'Order {{order.number}} for {{user.name}}',
  html: '<h1>Hello {{user.name}}</h1><ul>{{#each order.items}}{{> line}}{{/each}}</ul><p>Total {{order.total}} EUR</p>',
  text: 'Hello {{user.name}}\n{{#each order.items}}- {{title}} x{{qty}}\n{{/each}}Total {{order.total}} EUR',
  layout: '<html><body><header>Beaver</header>{{{body}}}<footer>Thanks</footer></body></html>',
  line: '<li>{{title}} × {{qty}}</li>',
}
const data = {
  user: { name: 'Ada <Lovelace>' },
  order: {
    number: 1042,
    total: 129.9,
    items: Array.from({ length: 8 }, (_, i) => ({ title: `Item ${i} & co`, qty: i + 1 })),
  },
}
const tplMailer = createMailer({
  envPrefix: false,
  driver: 'memory',
  templates: {
    inline: { order: { subject: sources.subject, html: sources.html, text: sources.text, layout: 'main' } },
    layouts: { main: { html: sources.layout } },
    partials: { line: sources.line },
  },
})
await tplMailer.render('order', data)
const hb = Handlebars.create()
hb.registerPartial('line', sources.line)
const direct = {
  subject: hb.compile(sources.subject, { strict: true, noEscape: true }),
  html: hb.compile(sources.html, { strict: true }),
  text: hb.compile(sources.text, { strict: true, noEscape: true }),
  layout: hb.compile(sources.layout, { strict: true }),
}

const smtpCase = (name: string, message: MailMessage, body: string, count: number) => ({
  name,
  contenders: [
    { contender: 'beaver-kit', measure: () => kit(message, count) },
    { contender: 'nodemailer', measure: () => rival(message, count) },
    { contender: 'floor', measure: () => floor(body, count) },
  ],
})

try {
  await runBench({
    package: 'mail',
    url: import.meta.url,
    rounds: ROUNDS,
    cases: [
      smtpCase(`smtp ${TOTAL} msgs, 2 KiB text, pool of 5`, messages.text as MailMessage, bodies.text, COUNT),
      smtpCase(
        `smtp ${TOTAL / 5} msgs, 50 KiB attachment, pool of 5`,
        messages.attachment as MailMessage,
        bodies.attachment,
        ATTACHMENT_COUNT,
      ),
      {
        name: 'template render (subject, html in a layout, text)',
        contenders: [
          { contender: 'beaver-kit', fn: () => tplMailer.render('order', data) },
          {
            contender: 'handlebars',
            fn: async () => ({
              subject: direct.subject(data),
              html: direct.layout({ ...data, body: direct.html(data) }),
              text: direct.text(data),
            }),
          },
        ],
      },
    ],
    goals: [
      {
        goal: 'smtp 2 KiB ≥ 1.0x nodemailer pool',
        case: `smtp ${TOTAL} msgs, 2 KiB text, pool of 5`,
        over: 'nodemailer',
        target: 1,
      },
      {
        goal: 'smtp 50 KiB ≥ 1.0x nodemailer pool',
        case: `smtp ${TOTAL / 5} msgs, 50 KiB attachment, pool of 5`,
        over: 'nodemailer',
        target: 1,
      },
      {
        goal: 'template overhead < 10% (≥ 0.91x Handlebars direct)',
        case: 'template render (subject, html in a layout, text)',
        over: 'handlebars',
        target: 0.91,
      },
    ],
    notes: [
      `${TOTAL} messages per contender (${TOTAL / 5} with the attachment): ${ROUNDS} interleaved rounds of ${COUNT} (${ATTACHMENT_COUNT}), ${IN_FLIGHT} in flight, ${CONNECTIONS} pooled connections; sink in a child process${pinned ? ' pinned to CPU 1' : ''}; nodemailer ${versionOf('nodemailer')}, handlebars ${versionOf('handlebars')}`,
    ],
  })
} finally {
  await tplMailer.close()
  sink.kill('SIGTERM')
}
