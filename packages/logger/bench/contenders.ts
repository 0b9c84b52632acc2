// The four contenders of bench/run.ts, each built the way its users would build it, writing
// to the same destination in the same mode where the library has one.
//
// Each contender imports its own library when it is built, so the child process measuring it
// holds what that library's users would load (the kit's child neither loads nor compiles
// winston, pino's child not the kit), and no contender's modules weigh on another's heap.
import { createWriteStream } from 'node:fs'
import type pino from 'pino'
import type { SonicBoom as SonicBoomType } from 'sonic-boom'
import type winston from 'winston'
import type { LoggerOptions } from '../src/index.ts'

// sonic-boom is CommonJS: its named export is invisible to ESM, and its typings mistype the default.
async function loadSonicBoom(): Promise<typeof SonicBoomType> {
  return (await import('sonic-boom')).default as unknown as typeof SonicBoomType
}

export type ContenderName = 'beaver-kit' | 'kit-no-keys' | 'pino' | 'winston' | 'floor'
type Cases = Record<string, () => void>
export interface Contender {
  cases: Cases
  /** Resolves once every line logged so far has been written (idle waiting, no CPU). */
  settle(): Promise<void>
  close(): Promise<void>
}

// The kit, pino and the floor write synchronously: what is left is the end-of-turn flush.
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const idle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The kit's default mode: sync writes in 4 KiB batches. pino gets the same from sonic-boom's
// minLength, its fastest mode for a burst (bench/modes.ts), though sonic-boom re-measures its
// pending batch on every write; the kit gathers its batches itself (src/outputs/stream.ts).
const BATCH = 4096
const REDACT = ['user.ssn', 'card.number']

const small = { userId: 42, action: 'login', ok: true }
const big = {
  user: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'editor', 'viewer'] },
  request: {
    method: 'POST',
    path: '/api/v1/links',
    query: { page: 3, limit: 50, sort: '-createdAt' },
    ip: '203.0.113.7',
  },
  items: Array.from({ length: 8 }, (_, i) => ({
    id: i,
    slug: `link-${i}-abcdef`,
    clicks: i * 1000 + 7,
    tags: ['a', 'b'],
  })),
  note: 'x'.repeat(180),
}
const withSecrets = () => ({
  user: { id: 42, ssn: '078-05-1120' },
  card: { number: '4111111111111111', brand: 'visa' },
})

/** The cases every contender runs, in order. */
export const CASES = [
  'string message',
  'small object',
  'child with bindings',
  '1 KiB object',
  'redaction of 2 paths',
  'disabled level',
] as const

/** The cases of a pino-shaped logger (the kit's Logger is a pino logger): the same calls for both. */
function pinoCases(log: Pick<pino.Logger, 'info' | 'debug' | 'child'>, redacting: Pick<pino.Logger, 'info'>): Cases {
  const child = log.child({ requestId: 'f3a9c1', service: 'links' })
  const payload = withSecrets()
  return {
    'string message': () => log.info('hello world'),
    'small object': () => log.info(small, 'hello'),
    'child with bindings': () => child.info('hello'),
    '1 KiB object': () => log.info(big, 'hello'),
    'redaction of 2 paths': () => redacting.info(payload, 'hello'),
    'disabled level': () => log.debug(small, 'hello'),
  }
}

async function endSonic(stream: SonicBoomType): Promise<void> {
  await new Promise<void>((resolve) => {
    stream.once('close', () => resolve())
    stream.end()
  })
}

async function kit(dest: string, options: LoggerOptions): Promise<Contender> {
  const { createLogger } = await import('../src/index.ts')
  const log = createLogger({ envPrefix: false, outputs: [`file:${dest}`], ...options })
  const redacting = createLogger({ envPrefix: false, outputs: [`file:${dest}`], redact: REDACT, ...options })
  return {
    cases: pinoCases(log.pino, redacting.pino),
    settle: nextTurn,
    async close() {
      await Promise.all([log.close(), redacting.close()])
    },
  }
}

export const contenders: Record<ContenderName, (dest: string) => Promise<Contender>> = {
  // The kit in its default configuration (key-name redaction on).
  'beaver-kit': (dest) => kit(dest, {}),
  // The same without key-name redaction: the work bare pino does, so the difference is what
  // redaction of secret keys at any depth costs.
  'kit-no-keys': (dest) => kit(dest, { redactKeys: ['none'] }),
  async pino(dest) {
    const { default: pino } = await import('pino')
    const SonicBoom = await loadSonicBoom()
    const stream = new SonicBoom({ dest, sync: true, minLength: BATCH })
    const log = pino(stream)
    const redacting = pino({ redact: { paths: REDACT, censor: '[REDACTED]' } }, stream)
    return {
      cases: pinoCases(log, redacting),
      settle: nextTurn,
      close: () => endSonic(stream),
    }
  },
  async winston(dest) {
    const { default: winston } = await import('winston')
    const stream = createWriteStream(dest, { flags: 'a' })
    const redact2 = winston.format((info) => {
      const i = info as Record<string, { ssn?: unknown; number?: unknown } | undefined>
      if (i.user?.ssn !== undefined) i.user = { ...i.user, ssn: '[REDACTED]' }
      if (i.card?.number !== undefined) i.card = { ...i.card, number: '[REDACTED]' }
      return info
    })
    const make = (...formats: winston.Logform.Format[]) =>
      winston.createLogger({
        level: 'info',
        format: winston.format.combine(...formats, winston.format.timestamp(), winston.format.json()),
        transports: [new winston.transports.Stream({ stream })],
      })
    const log = make()
    const redacting = make(redact2())
    const child = log.child({ requestId: 'f3a9c1', service: 'links' })
    const payload = withSecrets()
    return {
      cases: {
        'string message': () => log.info('hello world'),
        'small object': () => log.info('hello', small),
        'child with bindings': () => child.info('hello'),
        '1 KiB object': () => log.info('hello', big),
        'redaction of 2 paths': () => redacting.info('hello', payload),
        'disabled level': () => log.debug('hello', small),
      },
      // winston hands lines to a file stream whose writes finish later, on libuv's threads.
      async settle() {
        await nextTurn()
        const pending = (l: winston.Logger): boolean =>
          l.writableLength > 0 || l.readableLength > 0 || l.transports.some((t) => t.writableLength > 0)
        while (stream.writableLength > 0 || pending(log) || pending(redacting)) await idle(1)
      },
      async close() {
        await new Promise<void>((resolve) => {
          log.on('finish', () => resolve())
          log.end()
        })
        await new Promise<void>((resolve) => stream.end(() => resolve()))
      },
    }
  },
  // The floor writes the way the kit's output does: lines gathered into 4 KiB batches, each
  // handed to sonic-boom as one write, the rest at the end of the turn (settle) and at close.
  async floor(dest) {
    const SonicBoom = await loadSonicBoom()
    const stream = new SonicBoom({ dest, sync: true, minLength: 0 })
    let pending = ''
    const handOver = (): void => {
      if (pending.length > 0) stream.write(pending)
      pending = ''
    }
    const pid = process.pid
    const line = (obj: object, msg: string): void => {
      pending += `${JSON.stringify({ level: 30, time: Date.now(), pid, ...obj, msg })}\n`
      if (pending.length >= BATCH) handOver()
    }
    const bindings = { requestId: 'f3a9c1', service: 'links' }
    const payload = withSecrets()
    const off = (_obj: object, _msg: string): void => {}
    return {
      cases: {
        'string message': () => line({}, 'hello world'),
        'small object': () => line(small, 'hello'),
        'child with bindings': () => line(bindings, 'hello'),
        '1 KiB object': () => line(big, 'hello'),
        'redaction of 2 paths': () =>
          line(
            { user: { ...payload.user, ssn: '[REDACTED]' }, card: { ...payload.card, number: '[REDACTED]' } },
            'hello',
          ),
        'disabled level': () => off(small, 'hello'),
      },
      async settle() {
        handOver()
        await nextTurn()
      },
      close() {
        handOver()
        return endSonic(stream)
      },
    }
  },
}
