import { randomBytes } from 'node:crypto'
import { SessionError } from './errors.ts'
import type { SessionRecord } from './store.ts'

/** 32 random bytes (256 bits) from the CSPRNG, base64url. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url')
}

/** What the manager does for a session when it is committed. */
export interface SessionHost {
  persist(session: Session): Promise<void>
  cookies(session: Session): string[]
  login(session: Session, userId: string, meta: { device?: string; ip?: string }): Promise<void>
}

/**
 * One request's session. Reads are from what was loaded; writes are recorded key by key, so a
 * save merges only the changed keys into what is stored now (two parallel requests that change
 * different keys both keep their change).
 */
export class Session {
  readonly #host: SessionHost
  #record: SessionRecord
  readonly changes = new Map<string, { value: unknown } | undefined>()
  /** No session came with the request (or the one that came was refused). */
  readonly isNew: boolean
  /** The id changed (login, regenerate): the old one is deleted, the cookie re-issued. */
  previousId: string | undefined
  destroyed = false
  /** Less than half the idle timeout was left: extended on commit. */
  touched = false
  /** The cookie has to be written (new, regenerated, rolled, or cookie mode with changes). */
  reissue = false

  constructor(host: SessionHost, record: SessionRecord, isNew: boolean) {
    this.#host = host
    this.#record = record
    this.isNew = isNew
  }

  get id(): string {
    return this.#record.id
  }
  get userId(): string | undefined {
    return this.#record.userId
  }
  get record(): Readonly<SessionRecord> {
    return this.#record
  }

  get<T = unknown>(key: string): T | undefined {
    const change = this.changes.get(key)
    if (this.changes.has(key)) return change?.value as T | undefined
    return Object.hasOwn(this.#record.data, key) ? (this.#record.data[key] as T) : undefined
  }

  set(key: string, value: unknown): void {
    this.#live()
    if (value === undefined) return this.delete(key)
    this.changes.set(key, { value })
  }

  delete(key: string): void {
    this.#live()
    this.changes.set(key, undefined)
  }

  /** The data as this request sees it (loaded, with its own changes). */
  all(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.#record.data }
    for (const [k, c] of this.changes) {
      if (c) out[k] = c.value
      else delete out[k]
    }
    return out
  }

  /** True when committing would write something. */
  get dirty(): boolean {
    return this.destroyed || this.changes.size > 0 || this.reissue || this.touched
  }

  /** A new id for the same data: call it whenever privileges change (login does). */
  regenerate(): void {
    this.#live()
    this.previousId ??= this.#record.id
    this.#record = { ...this.#record, id: newSessionId() }
    this.reissue = true
  }

  /**
   * Signs the user in: a new id (so an id planted before login is worthless), the user on the
   * session, a fresh absolute timeout, and the session in the user's index.
   */
  async login(userId: string, meta: { device?: string; ip?: string } = {}): Promise<void> {
    this.regenerate()
    this.#record = { ...this.#record, userId, created: Date.now(), device: meta.device, ip: meta.ip }
    await this.#host.login(this, userId, meta)
  }

  /** Ends the session: deleted from the store, the cookie cleared on commit. */
  destroy(): void {
    this.destroyed = true
  }

  /** Writes what changed (store mode) and returns the Set-Cookie values to send. */
  async commit(): Promise<string[]> {
    await this.#host.persist(this)
    return this.#host.cookies(this)
  }

  /** @internal The manager replaces the record after a merge. */
  replace(record: SessionRecord): void {
    this.#record = record
  }

  #live(): void {
    if (this.destroyed) throw new SessionError('SESSION_DESTROYED', 'This session was destroyed; load a new one')
  }
}
