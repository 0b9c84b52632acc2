import { describe, expect, it } from 'vitest'
import MailComposer from 'nodemailer/lib/mail-composer'
import * as qp from 'nodemailer/lib/qp'
import { writeMime, type MimeTree } from '../src/drivers/smtp-compose.ts'

// The smtp transport writes MailComposer's tree in one pass instead of through nodemailer's
// streaming writer; for every shape of message the kit sends, the bytes must be the same.
const long = 'A line far longer than seventy-six characters, so that encoders have to wrap it somewhere. '.repeat(30)
const shapes: Record<string, Record<string, unknown>> = {
  'plain ASCII text': { text: 'Hello Ada,\n\n.a dot at a line start\nbye' },
  'non-ASCII text and subject, long lines': { subject: 'Grüße, 日本 ✓', text: `Grüße\n${long}` },
  'html only': { html: `<p>${long}</p>` },
  'text and html': { text: 'plain', html: '<b>rich</b> ünï' },
  'attachments and an inline image': {
    text: 'see attached',
    html: '<img src="cid:logo@beaver">',
    attachments: [
      {
        filename: 'invoice.pdf',
        content: Buffer.alloc(5000, 7),
        contentType: 'application/pdf',
        contentDisposition: 'attachment',
      },
      {
        filename: 'lögo, "q".png',
        content: Buffer.from([1, 2, 3]),
        contentType: 'image/png',
        cid: 'logo@beaver',
        contentDisposition: 'inline',
      },
      { filename: 'empty.txt', content: Buffer.alloc(0), contentType: 'text/plain', contentDisposition: 'attachment' },
    ],
  },
  'named and encoded addresses, custom headers': {
    from: { name: 'Bëaver, Inc.', address: 'app@example.com' },
    to: [
      { name: 'Ada "the" Lovelace', address: 'ada@example.com' },
      { name: '', address: 'bob@bücher.example' },
    ],
    cc: [{ name: 'Cé', address: 'c@example.com' }],
    bcc: [{ name: '', address: 'hidden@example.com' }],
    replyTo: [{ name: '', address: 'help@example.com' }],
    headers: { 'List-Unsubscribe': `<https://example.com/u?${'x'.repeat(120)}>`, 'X-Note': 'ünïcode value' },
    text: 'x',
  },
}

describe('smtp: writing MailComposer output in one pass', () => {
  for (const [name, fields] of Object.entries(shapes)) {
    it(`gives nodemailer's own bytes: ${name}`, async () => {
      const node = new MailComposer({
        from: { name: 'App', address: 'app@example.com' },
        to: [{ name: '', address: 'ada@example.com' }],
        subject: 'Hi',
        ...fields,
      }).compile()
      const written = writeMime(node as unknown as MimeTree, qp)
      const streamed = await node.build()
      expect(written?.toString('latin1')).toBe(streamed.toString('latin1'))
      expect(written?.includes('hidden@example.com')).toBe(false)
    })
  }

  it('leaves a tree it cannot write in one pass (a raw part) to nodemailer', () => {
    const node = new MailComposer({ raw: 'Subject: x\r\n\r\nbody' }).compile()
    expect(writeMime(node as unknown as MimeTree, qp)).toBeUndefined()
  })
})
