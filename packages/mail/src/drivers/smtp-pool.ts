import { importPeer } from '@beaver-kit/core'
import type { MimeTree, QuotedPrintable } from './smtp-compose.ts'

// The parts of nodemailer's SMTP client and MIME composer the kit uses, stated here so that any
// nodemailer from 6.9 on fits (the same modules, at the same paths, since 6.0).
export interface SmtpEnvelope {
  from: string | false
  to: string[]
}
export interface SmtpSendInfo {
  accepted?: string[]
  rejected?: string[]
  response?: string
}
interface SmtpConnection {
  readonly allowsAuth?: boolean
  readonly _destroyed?: boolean
  connect(callback: (err?: Error | null) => void): void
  login(auth: Record<string, unknown>, callback: (err?: Error | null) => void): void
  send(envelope: SmtpEnvelope, message: Buffer, callback: (err: Error | null, info?: SmtpSendInfo) => void): void
  reset(callback: (err?: Error | null) => void): void
  quit(): void
  close(): void
  on(event: 'error', listener: (err: Error) => void): void
  once(event: 'end', listener: () => void): void
}
type SmtpConnectionClass = new (options: Record<string, unknown>) => SmtpConnection
export interface MimeNode extends MimeTree {
  messageId(): string
  getEnvelope(): SmtpEnvelope
  processFunc(fn: (input: unknown) => unknown): void
  build(callback: (err: Error | null, message: Buffer) => void): void
}
type MailComposerClass = new (mail: Record<string, unknown>) => { compile(): MimeNode }
type DkimClass = new (options: Record<string, unknown>) => { sign(input: unknown): unknown }

/** nodemailer's SMTP client, MIME composer and DKIM signer, loaded once (an optional peer). */
export interface SmtpModules {
  SMTPConnection: SmtpConnectionClass
  MailComposer: MailComposerClass
  DKIM: DkimClass
  qp: QuotedPrintable
}

const defaultOf = <T>(mod: unknown): T => ((mod as { default?: T }).default ?? mod) as T

/**
 * One of nodemailer's `lib/<name>` modules: a subpath its `exports` map names (nodemailer 7+),
 * or, in the versions without an `exports` map (6.9), the folder's index.js, since ESM does not
 * resolve a directory import.
 */
async function nodemailerModule(name: string): Promise<unknown> {
  try {
    return await import(`nodemailer/lib/${name}`)
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_UNSUPPORTED_DIR_IMPORT') throw err
    return import(`nodemailer/lib/${name}/index.js`)
  }
}

export async function loadSmtpModules(neededBy: string): Promise<SmtpModules> {
  const [connection, composer, dkim, qp] = await importPeer(
    'nodemailer',
    () =>
      Promise.all([
        nodemailerModule('smtp-connection'),
        nodemailerModule('mail-composer'),
        nodemailerModule('dkim'),
        nodemailerModule('qp'),
      ]),
    neededBy,
  )
  return {
    SMTPConnection: defaultOf<SmtpConnectionClass>(connection),
    MailComposer: defaultOf<MailComposerClass>(composer),
    DKIM: defaultOf<DkimClass>(dkim),
    qp: defaultOf<QuotedPrintable>(qp),
  }
}

export interface SmtpPoolOptions {
  /** SMTPConnection options: host, port, secure, requireTLS, ignoreTLS, tls, timeouts. */
  connection: Record<string, unknown>
  auth: { user: string; pass: string } | undefined
  maxConnections: number
  /** Messages per connection before it is replaced. */
  maxMessages: number
}

interface Job {
  envelope: SmtpEnvelope
  message: Buffer
  resolve(info: SmtpSendInfo): void
  reject(err: unknown): void
}

interface Pooled {
  conn: SmtpConnection
  sent: number
  /** False once it failed, closed or was retired: never handed a message again. */
  usable: boolean
  /** Whether it still counts against maxConnections (verify()'s own connection never does). */
  counted: boolean
}

/**
 * Up to `maxConnections` SMTP connections, opened on demand and shared by every send: the
 * message goes out as one composed buffer (envelope and DATA pipelined where the server offers
 * PIPELINING), so each message costs three socket writes instead of one per MIME chunk.
 * Failures follow nodemailer's own pool: a refused envelope or message resets the connection
 * and keeps it; anything else closes it, and the next send opens another.
 */
export class SmtpPool {
  readonly #modules: SmtpModules
  readonly #o: SmtpPoolOptions
  readonly #queue: Job[] = []
  readonly #idle: Pooled[] = []
  #open = 0
  #closed = false

  constructor(modules: SmtpModules, options: SmtpPoolOptions) {
    this.#modules = modules
    this.#o = options
  }

  /** Connections open or opening (at most maxConnections). */
  get open(): number {
    return this.#open
  }

  /** Sends on the next free connection; an abort while the message still waits takes it out of the queue. */
  send(envelope: SmtpEnvelope, message: Buffer, signal?: AbortSignal): Promise<SmtpSendInfo> {
    if (this.#closed) return Promise.reject(closedError())
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    return new Promise((resolve, reject) => {
      const job: Job = { envelope, message, resolve, reject }
      this.#queue.push(job)
      if (signal) {
        const onAbort = (): void => {
          const at = this.#queue.indexOf(job)
          if (at < 0) return // on a connection already: it goes out, as a started send cannot be taken back
          this.#queue.splice(at, 1)
          job.reject(signal.reason)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        const settle = (): void => signal.removeEventListener('abort', onAbort)
        job.resolve = (info) => (settle(), resolve(info))
        job.reject = (err) => (settle(), reject(err))
      }
      this.#pump()
    })
  }

  /** Opens one connection of its own (greeting, TLS, AUTH) and closes it: what ready() checks. */
  async verify(): Promise<void> {
    const pooled = await this.#connect(false)
    pooled.usable = false
    pooled.conn.quit()
  }

  /** Closes idle connections now, busy ones after their message; queued messages fail. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const job of this.#queue.splice(0)) job.reject(closedError())
    for (const pooled of this.#idle.splice(0)) this.#retire(pooled)
  }

  #pump(): void {
    while (!this.#closed && this.#queue.length > 0) {
      const pooled = this.#idle.pop()
      if (pooled) {
        this.#run(pooled, this.#queue.shift() as Job)
        continue
      }
      if (this.#open >= this.#o.maxConnections) return
      this.#open++
      this.#connect(true).then(
        (opened) => {
          if (this.#closed) return this.#retire(opened)
          this.#idle.push(opened)
          this.#pump()
        },
        (err: unknown) => {
          // The message that asked for the connection fails with its error (a refused login,
          // an unreachable server), as nodemailer's pool does; the rest wait for the next try.
          this.#queue.shift()?.reject(err)
          this.#pump()
        },
      )
    }
  }

  #connect(counted: boolean): Promise<Pooled> {
    return new Promise((resolve, reject) => {
      const conn = new this.#modules.SMTPConnection(this.#o.connection)
      const pooled: Pooled = { conn, sent: 0, usable: true, counted }
      let settled = false
      const fail = (err: Error): void => {
        this.#drop(pooled)
        // Once in the pool, a lost connection makes room for another the queue may need.
        if (settled) return this.#pump()
        settled = true
        conn.close()
        reject(err)
      }
      // A failure during a send also reaches that send's callback; this keeps it from being an
      // unhandled 'error' event, and takes the connection out of the pool.
      conn.on('error', fail)
      conn.once('end', () => {
        if (!settled) {
          return fail(Object.assign(new Error('The connection closed before it was ready'), { code: 'ECONNECTION' }))
        }
        this.#drop(pooled)
        this.#pump()
      })
      conn.connect((err) => {
        if (err) return fail(err)
        const { auth } = this.#o
        if (!auth || !conn.allowsAuth) {
          settled = true
          return resolve(pooled)
        }
        conn.login({ user: auth.user, credentials: { user: auth.user, pass: auth.pass } }, (loginErr) => {
          if (loginErr) return fail(loginErr)
          settled = true
          resolve(pooled)
        })
      })
    })
  }

  #run(pooled: Pooled, job: Job): void {
    const { conn } = pooled
    conn.send(job.envelope, job.message, (err, info) => {
      pooled.sent++
      if (!err) {
        job.resolve(info ?? {})
        return this.#release(pooled)
      }
      job.reject(err)
      const code = (err as { code?: string }).code
      const reply = (err as { responseCode?: number }).responseCode
      if ((code === 'EENVELOPE' || code === 'EMESSAGE') && reply !== 421 && pooled.usable && !conn._destroyed) {
        conn.reset((resetErr) => (resetErr ? this.#retire(pooled) : this.#release(pooled)))
      } else {
        this.#retire(pooled)
      }
    })
  }

  #release(pooled: Pooled): void {
    if (!pooled.usable) return this.#pump()
    if (this.#closed || pooled.sent >= this.#o.maxMessages) return this.#retire(pooled)
    this.#idle.push(pooled)
    this.#pump()
  }

  /** Ends a connection: QUIT when it is healthy; a failed one is closed already. */
  #retire(pooled: Pooled): void {
    if (pooled.usable) pooled.conn.quit()
    this.#drop(pooled)
    this.#pump()
  }

  /** Takes a connection out of the pool (idempotent), making room for another. */
  #drop(pooled: Pooled): void {
    pooled.usable = false
    const at = this.#idle.indexOf(pooled)
    if (at >= 0) this.#idle.splice(at, 1)
    if (!pooled.counted) return
    pooled.counted = false
    this.#open--
  }
}

function closedError(): Error {
  return Object.assign(new Error('The SMTP pool is closed'), { code: 'ECLOSED' })
}
