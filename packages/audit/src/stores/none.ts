import { AuditError } from '../errors.ts'
import { GENESIS_HASH, type ChainPoint, type PreparedRecord, type StoredRecord } from '../record.ts'
import type { AuditAnchor, AuditStore, PositionedRecord, StreamState } from '../store.ts'

const notKept = (what: string): Promise<never> =>
  Promise.reject(
    new AuditError(
      'AUDIT_NOT_SUPPORTED',
      `BEAVER_AUDIT_STORE is none (log only): records are not kept, so ${what} has nothing to read; use the database or memory store`,
    ),
  )

/**
 * The log-only trail: records are chained (seq and prevHash) within this process so the log
 * lines can be checked in order, but nothing is kept to query or verify.
 */
export class NoneStore implements AuditStore {
  readonly name = 'none'
  readonly #heads = new Map<string, ChainPoint>()

  ready(): Promise<void> {
    return Promise.resolve()
  }

  appendSync(prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): StoredRecord {
    const { stream } = prepared
    const record = seal(this.#heads.get(stream) ?? { seq: 0, hash: GENESIS_HASH })
    this.#heads.set(stream, { seq: record.seq, hash: record.hash })
    return record
  }

  append(prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): Promise<StoredRecord> {
    return Promise.resolve(this.appendSync(prepared, seal))
  }

  state(stream: string): Promise<StreamState | undefined> {
    const head = this.#heads.get(stream)
    return Promise.resolve(head ? { head, base: { seq: 0, hash: GENESIS_HASH } } : undefined)
  }

  chain(): Promise<StoredRecord[]> {
    return notKept('verify()')
  }

  query(): Promise<PositionedRecord[]> {
    return notKept('query()')
  }

  olderPrefix(): Promise<ChainPoint | undefined> {
    return Promise.resolve(undefined)
  }

  prune(): Promise<number> {
    return Promise.resolve(0)
  }

  streams(): Promise<string[]> {
    return Promise.resolve([...this.#heads.keys()].sort())
  }

  addAnchor(_anchor: AuditAnchor): Promise<void> {
    return notKept('anchor()')
  }

  anchors(): Promise<AuditAnchor[]> {
    return Promise.resolve([])
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
