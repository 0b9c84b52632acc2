import { randomUUID } from 'node:crypto'
import { formatAddress, type Address } from '../address.ts'
import { defineMailDriver, plainCapabilities } from '../transport.ts'

export interface LogTransportOptions {
  /** Print the text body as well as the envelope. Default true (dev mail carries links). */
  body?: boolean | undefined
  /** Where lines go. Default: standard output. */
  write?: ((line: string) => void) | undefined
}

const list = (addresses: readonly Address[]): string => addresses.map(formatAddress).join(', ')
const MAX_BODY = 4000

/**
 * Prints each message instead of sending it: the development default, so nothing leaves the
 * machine and the links in a mail are one glance away.
 */
export const logDriver = defineMailDriver<LogTransportOptions>({
  name: 'log',
  peers: [],
  section: 'log',
  create(options) {
    const { body = true, write = (line: string) => void process.stdout.write(line) } = options
    return {
      name: 'log',
      capabilities: plainCapabilities({ retries: true, maxTags: Infinity }),
      async send(mail) {
        const messageId = `<${randomUUID()}@${mail.from.address.split('@')[1] ?? 'localhost'}>`
        const lines = [
          `[mail] ${messageId} from ${formatAddress(mail.from)} to ${list(mail.to) || '-'}${mail.cc.length ? ` cc ${list(mail.cc)}` : ''}${mail.bcc.length ? ` bcc ${list(mail.bcc)}` : ''}`,
          `[mail] subject: ${mail.subject}${mail.attachments.length ? ` (${mail.attachments.length} attachment${mail.attachments.length > 1 ? 's' : ''}: ${mail.attachments.map((a) => a.filename).join(', ')})` : ''}`,
        ]
        const text = mail.text ?? (mail.html ? '(html only)' : '')
        if (body && text) {
          const shown =
            text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}\n… (${text.length - MAX_BODY} more characters)` : text
          lines.push(...shown.split('\n').map((l) => `[mail]   ${l}`))
        }
        write(`${lines.join('\n')}\n`)
        return { messageId, accepted: [...mail.to, ...mail.cc, ...mail.bcc].map((a) => a.address) }
      },
      async close() {},
    }
  },
})
