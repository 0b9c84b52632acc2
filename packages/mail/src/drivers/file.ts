import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { buildMime } from '../mime.ts'
import { recipientsOf } from '../message.ts'
import { defineMailDriver, plainCapabilities } from '../transport.ts'

export interface FileTransportOptions {
  /** Folder of the .eml files, created when missing. Default `mail`. */
  dir?: string | undefined
}

/**
 * Writes each message as an .eml file (the exact bytes SMTP would carry, Bcc left out) to a
 * folder, named `<time>-<id>.eml` so a listing is in sending order; open them in any mail client.
 */
export const fileDriver = defineMailDriver<FileTransportOptions>({
  name: 'file',
  peers: ['nodemailer'],
  section: 'file',
  create(options) {
    const dir = resolve(options.dir ?? 'mail')
    let made: Promise<unknown> | undefined
    return {
      name: 'file',
      capabilities: plainCapabilities({ maxTags: Infinity }),
      async send(mail) {
        await (made ??= mkdir(dir, { recursive: true }))
        const { raw, messageId } = await buildMime(mail, 'the file mail transport', true)
        const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}.eml`)
        await writeFile(file, raw)
        return { messageId, accepted: recipientsOf(mail), response: file }
      },
      async verify() {
        await mkdir(dir, { recursive: true })
      },
      async close() {},
    }
  },
})
