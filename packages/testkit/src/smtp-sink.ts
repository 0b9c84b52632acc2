// A capturing SMTP server for the mail tests and benchmark, on nodemailer's `smtp-server`
// (a devDependency of @beaver-kit/mail, imported lazily so no other package loads it):
// authentication, STARTTLS or implicit TLS on a self-signed certificate made for the run,
// scripted 421/454/550 replies, and every message kept as raw bytes to parse back.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'

/** One message the sink accepted. */
export interface SinkMessage {
  readonly from: string
  readonly to: readonly string[]
  readonly raw: Buffer
  /** The authenticated user, if the client logged in. */
  readonly user: string | undefined
  /** Whether the connection was encrypted (STARTTLS or TLS) when the message came. */
  readonly secure: boolean
  readonly sessionId: string
}

/** A reply the sink gives instead of accepting, at one stage of the transaction. */
export interface ScriptedReply {
  stage: 'mail' | 'rcpt' | 'data' | 'auth'
  code: number
  message: string
  /** Only for this recipient (stage rcpt). */
  recipient?: string
  /** How many times (default 1); Infinity for every time. */
  times?: number
}

export interface SmtpSinkOptions {
  /** `starttls` (offered, self-signed certificate), `tls` (implicit TLS), `none` (plain). Default none. */
  security?: 'starttls' | 'tls' | 'none'
  /** Require this login (PLAIN/LOGIN). */
  auth?: { user: string; password: string }
  /** Keep the messages (default true); the benchmark discards them. */
  capture?: boolean
}

export interface SmtpSink {
  readonly host: string
  readonly port: number
  /** `smtp://[user:pass@]127.0.0.1:<port>` */
  readonly url: string
  /** The PEM certificate of the sink (trust it with `tls: { ca }` and servername `localhost`). */
  readonly certificate: string | undefined
  readonly messages: SinkMessage[]
  /** Server-side errors (client resets during fault tests); tests assert on them when they care. */
  readonly errors: Error[]
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Messages accepted so far (also counted when not captured). */
  readonly accepted: () => number
  /** Queues replies: the next matching stage answers with the code instead of accepting. */
  script(...replies: ScriptedReply[]): void
  /** Resolves once `count` messages were accepted. */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  clear(): void
  stop(): Promise<void>
}

interface SmtpSession {
  id: string
  user?: string
  secure: boolean
  envelope: { mailFrom: false | { address: string }; rcptTo: Array<{ address: string }> }
}
type Done = (err?: Error | null, value?: unknown) => void
interface SmtpServerLike {
  listen(port: number, host: string, cb: () => void): void
  close(cb: () => void): void
  on(event: 'error', cb: (err: Error) => void): void
  on(event: 'connect', cb: () => void): void
  server: { address(): AddressInfo | string | null }
}
type SmtpServerCtor = new (options: Record<string, unknown>) => SmtpServerLike

const run = promisify(execFile)

/** A throwaway self-signed certificate for localhost and 127.0.0.1, made with openssl. */
export async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'beaver-cert-'))
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ])
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') }
  } catch (err) {
    throw new Error(
      `openssl could not make a test certificate (apt-get install -y openssl): ${(err as Error).message}`,
      { cause: err },
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function replyError(reply: ScriptedReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code })
}

/**
 * Starts an SMTP server on a free loopback port.
 * @example
 * const sink = await startSmtpSink({ security: 'starttls', auth: { user: 'u', password: 'p' } })
 * sink.script({ stage: 'data', code: 421, message: 'Try again later' })
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const { security = 'none', auth, capture = true } = options
  const name = 'smtp-server'
  const { SMTPServer } = (await import(name)) as { SMTPServer: SmtpServerCtor }
  const tlsMaterial = security === 'none' ? undefined : await selfSignedCertificate()
  const messages: SinkMessage[] = []
  const scripted: Array<ScriptedReply & { left: number }> = []
  let connections = 0
  let accepted = 0
  const waiters = new Set<{ count: number; resolve: () => void }>()

  const take = (stage: ScriptedReply['stage'], recipient?: string): ScriptedReply | undefined => {
    const i = scripted.findIndex((r) => r.stage === stage && (r.recipient === undefined || r.recipient === recipient))
    if (i < 0) return undefined
    const reply = scripted[i] as ScriptedReply & { left: number }
    if (--reply.left <= 0) scripted.splice(i, 1)
    return reply
  }

  const server = new SMTPServer({
    secure: security === 'tls',
    hideSTARTTLS: security === 'none',
    ...(tlsMaterial ? { key: tlsMaterial.key, cert: tlsMaterial.cert } : {}),
    authOptional: auth === undefined,
    allowInsecureAuth: security === 'none',
    disabledCommands: auth === undefined ? ['AUTH'] : [],
    logger: false,
    size: 50 * 1024 * 1024,
    onConnect(_session: SmtpSession, done: Done) {
      connections++
      done()
    },
    onAuth(a: { username?: string; password?: string }, _session: SmtpSession, done: Done) {
      const reply = take('auth')
      if (reply) return done(replyError(reply))
      if (auth && a.username === auth.user && a.password === auth.password) return done(null, { user: a.username })
      done(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }))
    },
    onMailFrom(_address: { address: string }, _session: SmtpSession, done: Done) {
      const reply = take('mail')
      done(reply ? replyError(reply) : null)
    },
    onRcptTo(address: { address: string }, _session: SmtpSession, done: Done) {
      const reply = take('rcpt', address.address)
      done(reply ? replyError(reply) : null)
    },
    onData(stream: Readable, session: SmtpSession, done: Done) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => {
        if (capture) chunks.push(chunk)
      })
      stream.once('end', () => {
        const reply = take('data')
        if (reply) return done(replyError(reply))
        accepted++
        if (capture) {
          messages.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
            user: session.user,
            secure: session.secure,
            sessionId: session.id,
          })
        }
        for (const w of waiters) if (accepted >= w.count) w.resolve()
        done(null, `OK queued as ${session.id}-${accepted}`)
      })
    },
  })
  const errors: Error[] = []
  server.on('error', (err) => errors.push(err))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : ''
  return {
    host: '127.0.0.1',
    port,
    url: `${security === 'tls' ? 'smtps' : 'smtp'}://${credentials}127.0.0.1:${port}`,
    certificate: tlsMaterial?.cert,
    messages,
    errors,
    connections: () => connections,
    accepted: () => accepted,
    script(...replies) {
      for (const r of replies) scripted.push({ ...r, left: r.times ?? 1 })
    },
    waitFor(count, timeoutMs = 10_000) {
      if (accepted >= count) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          count,
          resolve: () => {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve()
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`the SMTP sink got ${accepted} of ${count} messages within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    clear() {
      messages.length = 0
      scripted.length = 0
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
