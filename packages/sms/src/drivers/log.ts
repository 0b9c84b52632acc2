import { randomUUID } from 'node:crypto'
import { defineSmsDriver } from '../driver.ts'

export interface LogDriverOptions {
  /** Where lines go. Default: standard output. */
  write?: ((line: string) => void) | undefined
}

/** Prints each message instead of sending it: the development default. */
export const logDriver = defineSmsDriver<LogDriverOptions>({
  name: 'log',
  peers: [],
  create(options) {
    const write = options.write ?? ((line: string) => void process.stdout.write(line))
    return {
      name: 'log',
      capabilities: Object.freeze({ retries: true, idempotencyKeys: false }),
      async send(message) {
        const messageId = `log-${randomUUID()}`
        write(`[sms] ${messageId} from ${message.from ?? '(default)'} to ${message.to}: ${message.body}\n`)
        return { messageId, status: 'logged' }
      },
      async close() {},
    }
  },
})
