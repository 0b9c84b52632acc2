import { createHash } from 'node:crypto'
import type * as ssh2 from 'ssh2'
import type { Client, ConnectConfig, SFTPWrapper } from 'ssh2'
import { StorageError } from '../errors.ts'

type Ssh2Module = typeof ssh2

/** How the sftp driver reaches its server (the `BEAVER_STORAGE_SFTP_*` connection settings). */
export interface SftpConnectionOptions {
  host?: string | undefined
  port?: number | undefined
  username?: string | undefined
  password?: string | undefined
  /** A private key in OpenSSH or PEM form (the key text, not a file name; `BEAVER_STORAGE_SFTP_PRIVATE_KEY_FILE` reads a file). */
  privateKey?: string | undefined
  passphrase?: string | undefined
  /** The server's host key fingerprint as `ssh-keygen -lf` prints it (`SHA256:...`); connections to any other key are refused. */
  hostFingerprint?: string | undefined
  /** Accept whatever host key the server shows (tests, trusted networks only); default false. */
  acceptAnyHostKey?: boolean | undefined
  /** Longest wait for the SSH handshake, in ms; default 10 s. */
  connectTimeout?: number | undefined
  /** Operations in flight at once on the one connection (open streams count); default 8. */
  concurrency?: number | undefined
}

export interface Session {
  client: Client
  sftp: SFTPWrapper
  /** Set once the connection or its SFTP channel ended. */
  lost: boolean
}

/** True when err says the connection went away under the request (rather than the server refusing it). */
function dropped(session: Session, err: unknown): boolean {
  if (session.lost) return true
  const e = err as { message?: unknown; code?: unknown } | undefined
  return (
    e?.message === 'No response from server' ||
    e?.message === 'Not connected' ||
    (typeof e?.code === 'string' && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(e.code))
  )
}

/** SFTP status codes the driver tells apart (draft-ietf-secsh-filexfer-02). */
export const SFTP_NO_SUCH_FILE = 2

/** True when an SFTP request failed because the path does not exist (or goes through a file). */
export function isNoSuchFile(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === SFTP_NO_SUCH_FILE
}

/** The fingerprint of a raw host key as `ssh-keygen -lf` prints it: `SHA256:` and unpadded base64. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** Turns a callback-style SFTP call into a promise. */
export function call<T = void>(fn: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))))
}

/**
 * One SSH connection and its SFTP session, opened on first use and shared by every operation;
 * when the server or the network drops it, the next operation opens a new one (and an
 * idempotent operation that was cut off is retried once on it). At most `concurrency`
 * operations run at once; the rest wait in order.
 */
export class SftpConnection {
  readonly #ssh2: Ssh2Module
  readonly #config: ConnectConfig
  readonly #limit: number
  #session: Promise<Session> | undefined
  #active = 0
  readonly #waiting: Array<() => void> = []
  #closed = false
  /** SSH connections opened so far (1 + reconnects). */
  connects = 0
  /** Most operations that were in flight at once. */
  peakActive = 0

  constructor(ssh2Module: Ssh2Module, options: SftpConnectionOptions, variable: (suffix: string) => string) {
    const invalid = (setting: string, why: string): StorageError =>
      new StorageError('STORAGE_OPTIONS_INVALID', `The sftp storage driver ${why}: set ${variable(setting)}.`, {
        details: { setting: variable(setting) },
      })
    if (!options.host) throw invalid('SFTP_HOST', 'needs a server')
    if (!options.username) throw invalid('SFTP_USERNAME', 'needs a user name')
    if (options.password === undefined && options.privateKey === undefined)
      throw invalid('SFTP_PRIVATE_KEY', `needs a private key or a password (${variable('SFTP_PASSWORD')})`)
    if (!options.hostFingerprint && !options.acceptAnyHostKey)
      throw invalid(
        'SFTP_HOST_FINGERPRINT',
        `verifies the server's host key (ssh-keygen -lf on the server's key prints it; ${variable('SFTP_ACCEPT_ANY_HOST_KEY')}=true skips the check)`,
      )
    this.#ssh2 = ssh2Module
    this.#limit = options.concurrency ?? 8
    const expected = options.hostFingerprint
    this.#config = {
      host: options.host,
      port: options.port ?? 22,
      username: options.username,
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      readyTimeout: options.connectTimeout ?? 10_000,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer) => expected === undefined || hostKeyFingerprint(key) === expected,
    }
  }

  #open(): Promise<Session> {
    const client = new this.#ssh2.Client()
    this.connects++
    const state: Session = { client, sftp: undefined as unknown as SFTPWrapper, lost: false }
    // Whatever ends the connection or its SFTP channel, the next operation opens a new one.
    const lose = (): void => {
      state.lost = true
      if (this.#session === current) this.#session = undefined
    }
    const session = new Promise<Session>((resolve, reject) => {
      const fail = (err: Error): void => {
        client.end()
        reject(
          new StorageError(
            'STORAGE_DRIVER',
            `The sftp storage could not connect to ${this.#config.host}:${this.#config.port}: ${err.message}`,
            { cause: err, details: { host: this.#config.host, port: this.#config.port } },
          ),
        )
      }
      client.once('error', fail)
      client.once('ready', () =>
        client.sftp((err, sftp) => {
          if (err) return fail(err)
          client.off('error', fail)
          sftp.once('close', lose)
          sftp.once('end', lose)
          state.sftp = sftp
          resolve(state)
        }),
      )
      client.connect(this.#config)
    })
    client.on('error', lose)
    client.on('close', lose)
    const current = session.catch((err: unknown) => {
      lose()
      throw err
    })
    this.#session = current
    return current
  }

  /** The SFTP session, connecting (again) when there is none. */
  session(): Promise<Session> {
    if (this.#closed) return Promise.reject(new StorageError('STORAGE_CLOSED', 'This sftp storage is closed.'))
    return this.#session ?? this.#open()
  }

  /** Waits for a free slot; the returned function gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#active++
    this.peakActive = Math.max(this.peakActive, this.#active)
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiting.shift()
      if (next) next()
      else this.#active--
    }
  }

  /** Runs fn in a slot (see attempt()). */
  async run<T>(fn: (sftp: SFTPWrapper) => Promise<T>, idempotent: boolean): Promise<T> {
    const release = await this.acquire()
    try {
      return await this.attempt(fn, idempotent)
    } finally {
      release()
    }
  }

  /**
   * Runs fn with the current session (the caller holds a slot). When the connection went away
   * under it, the session is dropped; an `idempotent` fn then runs once more on a new connection.
   */
  async attempt<T>(fn: (sftp: SFTPWrapper) => Promise<T>, idempotent: boolean): Promise<T> {
    const session = await this.session()
    try {
      return await fn(session.sftp)
    } catch (err) {
      if (!dropped(session, err)) throw err
      session.lost = true
      if (this.#session !== undefined && (await this.#session.catch(() => undefined)) === session)
        this.#session = undefined
      session.client.end()
      if (!idempotent || this.#closed) throw err
      return await fn((await this.session()).sftp)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    const open = await this.#session?.catch(() => undefined)
    this.#session = undefined
    if (!open) return
    await new Promise<void>((resolve) => {
      open.client.once('close', () => resolve())
      open.client.end()
    })
  }
}
