import { GENESIS_HASH, type ChainPoint, type PreparedRecord, type StoredRecord } from '../record.ts'
import type { AuditAnchor, AuditStore, PositionedRecord, StoreQuery, StreamState } from '../store.ts'

interface MemoryStream {
  records: PositionedRecord[]
  head: ChainPoint
  base: ChainPoint
  anchors: AuditAnchor[]
}

/**
 * Records in this process, for tests and for trails that need not outlive it. Appends are
 * synchronous, so they are atomic within the process.
 */
export class MemoryStore implements AuditStore {
  readonly name = 'memory'
  readonly #streams = new Map<string, MemoryStream>()
  #pos = 0

  #stream(name: string): MemoryStream {
    let s = this.#streams.get(name)
    if (!s) {
      s = { records: [], head: { seq: 0, hash: GENESIS_HASH }, base: { seq: 0, hash: GENESIS_HASH }, anchors: [] }
      this.#streams.set(name, s)
    }
    return s
  }

  ready(): Promise<void> {
    return Promise.resolve()
  }

  /** Appends synchronously (the facade's fast path). */
  appendSync(prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): StoredRecord {
    const { stream } = prepared
    const s = this.#stream(stream)
    const record = seal(s.head)
    s.records.push({ ...record, pos: ++this.#pos })
    s.head = { seq: record.seq, hash: record.hash }
    return record
  }

  append(prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): Promise<StoredRecord> {
    return Promise.resolve(this.appendSync(prepared, seal))
  }

  state(stream: string): Promise<StreamState | undefined> {
    const s = this.#streams.get(stream)
    return Promise.resolve(s ? { head: { ...s.head }, base: { ...s.base } } : undefined)
  }

  chain(stream: string, afterSeq: number, limit: number): Promise<StoredRecord[]> {
    const s = this.#streams.get(stream)
    const rows = (s?.records ?? []).filter((r) => r.seq > afterSeq).sort((a, b) => a.seq - b.seq)
    return Promise.resolve(rows.slice(0, limit).map(({ pos: _, ...r }) => r))
  }

  query(q: StoreQuery): Promise<PositionedRecord[]> {
    const streams = q.stream === undefined ? [...this.#streams.values()] : [this.#streams.get(q.stream)]
    const rows: PositionedRecord[] = []
    for (const s of streams) {
      for (const r of s?.records ?? []) {
        if (q.actor !== undefined && r.actor !== q.actor) continue
        if (q.target !== undefined && r.target !== q.target) continue
        if (q.action !== undefined && r.action !== q.action) continue
        if (q.outcome !== undefined && r.outcome !== q.outcome) continue
        if (q.from !== undefined && r.at < q.from) continue
        if (q.to !== undefined && r.at >= q.to) continue
        if (q.after !== undefined && (q.order === 'asc' ? r.pos <= q.after : r.pos >= q.after)) continue
        rows.push(r)
      }
    }
    rows.sort((a, b) => (q.order === 'asc' ? a.pos - b.pos : b.pos - a.pos))
    return Promise.resolve(rows.slice(0, q.limit).map((r) => ({ ...r })))
  }

  olderPrefix(stream: string, at: number): Promise<ChainPoint | undefined> {
    const s = this.#streams.get(stream)
    if (!s) return Promise.resolve(undefined)
    const young = s.records.filter((r) => r.at >= at).reduce((min, r) => Math.min(min, r.seq), s.head.seq + 1)
    const last = s.records.find((r) => r.seq === young - 1)
    return Promise.resolve(last ? { seq: last.seq, hash: last.hash } : undefined)
  }

  prune(stream: string, seq: number): Promise<number> {
    const s = this.#streams.get(stream)
    const cut = s?.records.find((r) => r.seq === seq)
    if (!s || !cut || seq <= s.base.seq) return Promise.resolve(0)
    const before = s.records.length
    s.records = s.records.filter((r) => r.seq > seq)
    s.base = { seq, hash: cut.hash }
    return Promise.resolve(before - s.records.length)
  }

  streams(): Promise<string[]> {
    return Promise.resolve([...this.#streams.keys()].sort())
  }

  addAnchor(anchor: AuditAnchor): Promise<void> {
    const s = this.#stream(anchor.stream)
    s.anchors = [...s.anchors.filter((a) => a.seq !== anchor.seq), anchor].sort((a, b) => a.seq - b.seq)
    return Promise.resolve()
  }

  anchors(stream: string): Promise<AuditAnchor[]> {
    return Promise.resolve([...(this.#streams.get(stream)?.anchors ?? [])])
  }

  /**
   * The live rows of a stream, for tests that tamper with a trail on purpose (the memory
   * counterpart of an UPDATE run on the database behind the kit's back).
   */
  unsafeRows(stream: string): Array<Record<string, unknown>> {
    return (this.#streams.get(stream)?.records ?? []) as unknown as Array<Record<string, unknown>>
  }

  /** The live head of a stream (see `unsafeRows`). */
  unsafeHead(stream: string): ChainPoint {
    return this.#stream(stream).head
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
