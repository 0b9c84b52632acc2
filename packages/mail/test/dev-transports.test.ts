import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeMailTransport } from '@beaver-kit/testkit/mail'
import { parseRawMail } from '@beaver-kit/testkit/mail-parse'
import { createMailer, type Mailer } from '@beaver-kit/mail'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-mail-files-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

let memory: Mailer | undefined
describeMailTransport('memory', () => (memory = createMailer({ envPrefix: false, driver: 'memory' })), {
  received: async () =>
    (memory?.sent() ?? []).map((m) => ({
      from: m.from.address,
      to: m.to.map((a) => a.address),
      cc: m.cc.map((a) => a.address),
      bcc: m.bcc.map((a) => a.address),
      replyTo: m.replyTo.map((a) => a.address),
      subject: m.subject,
      text: m.text,
      html: m.html,
      headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), v])),
      attachments: m.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: a.content,
        cid: a.cid,
      })),
      tags: m.tags,
      metadata: m.metadata,
    })),
  reset: () => undefined,
  skipReason: 'the memory transport never fails and checks no credentials',
})

const files = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort()
describeMailTransport(
  'file (.eml files parsed back)',
  () => createMailer({ envPrefix: false, driver: 'file', file: { dir } }),
  {
    received: async () => Promise.all((await files()).map(async (f) => parseRawMail(await readFile(join(dir, f))))),
    reset: async () => {
      for (const f of await files()) await rm(join(dir, f))
    },
    reportsBcc: false,
    skipReason: 'the file transport writes locally: no server to fail or refuse credentials',
  },
)

describe('log transport', () => {
  it('prints the envelope, subject, attachments and text body', async () => {
    const lines: string[] = []
    await using mailer = createMailer({ envPrefix: false, driver: 'log', log: { write: (l) => lines.push(l) } })
    const result = await mailer.send({
      from: 'App <app@example.com>',
      to: 'ada@example.com',
      cc: 'c@example.com',
      bcc: 'b@example.com',
      subject: 'Your link',
      text: 'Open https://example.com/x',
      attachments: [{ filename: 'a.txt', content: 'x' }],
    })
    const out = lines.join('')
    expect(result.transport).toBe('log')
    expect(out).toContain('to ada@example.com cc c@example.com bcc b@example.com')
    expect(out).toContain('subject: Your link (1 attachment: a.txt)')
    expect(out).toContain('[mail]   Open https://example.com/x')
  })

  it('leaves the body out when told to, and shortens a long one', async () => {
    const lines: string[] = []
    await using quiet = createMailer({
      envPrefix: false,
      driver: 'log',
      log: { body: false, write: (l) => lines.push(l) },
    })
    await quiet.send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'secret body' })
    expect(lines.join('')).not.toContain('secret body')
    lines.length = 0
    await using loud = createMailer({ envPrefix: false, driver: 'log', log: { write: (l) => lines.push(l) } })
    await loud.send({ from: 'a@example.com', to: 'b@example.com', subject: 's', html: '<p>x</p>' })
    await loud.send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'y'.repeat(5000) })
    expect(lines.join('')).toContain('(html only)')
    expect(lines.join('')).toContain('1000 more characters')
  })
})
