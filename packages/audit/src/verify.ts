import { recordHash } from './chain.ts'
import { GENESIS_HASH, type ChainPoint, type StoredRecord } from './record.ts'
import type { AuditStore, StreamState } from './store.ts'

/** What went wrong with a chain, at the first record where it shows. */
export type ChainProblemKind = 'altered' | 'deleted' | 'inserted' | 'reordered' | 'anchor'

/** The first problem `verify()` found. */
export interface ChainProblem {
  kind: ChainProblemKind
  /** Where in the stream the problem is (the first missing seq for `deleted`). */
  seq: number
  /** The record concerned, when there is one. */
  id?: string
  message: string
}

/** What `verify()` answers. */
export interface VerifyResult {
  ok: boolean
  stream: string
  /** Records whose hash and link were checked. */
  checked: number
  /** The chain's head as the store records it. */
  head: ChainPoint
  /** The retention checkpoint the chain was checked from (seq 0 when nothing was pruned). */
  base: ChainPoint
  /** Signed anchors checked (signature, and the record at its seq). */
  anchors: number
  problem?: ChainProblem
}

/** How far around a broken link a moved record is looked for. */
const WINDOW = 64
const PAGE = 500

interface Reader {
  /** The row at index i, reading more pages as needed; undefined past the end. */
  at(i: number): Promise<StoredRecord | undefined>
}

function reader(store: AuditStore, stream: string, afterSeq: number, signal?: AbortSignal): Reader {
  const rows: StoredRecord[] = []
  let offset = 0 // index of rows[0]
  let lastSeq = afterSeq
  let done = false
  return {
    async at(i) {
      while (!done && i >= offset + rows.length) {
        signal?.throwIfAborted()
        const page = await store.chain(stream, lastSeq, PAGE)
        if (page.length < PAGE) done = true
        if (page.length === 0) break
        lastSeq = (page.at(-1) as StoredRecord).seq
        rows.push(...page)
        // Keep a window behind the cursor, not the whole stream.
        const drop = rows.length - 2 * PAGE - WINDOW
        if (drop > 0) {
          rows.splice(0, drop)
          offset += drop
        }
      }
      return rows[i - offset]
    },
  }
}

const hashWithSeq = (r: StoredRecord, seq: number): string => recordHash({ ...r, seq })

/** The seq whose hash `r` carries, when it is not its own: the record was moved there from. */
function originalSeq(r: StoredRecord): number | undefined {
  for (let d = 1; d <= WINDOW; d++) {
    if (hashWithSeq(r, r.seq + d) === r.hash) return r.seq + d
    if (r.seq - d > 0 && hashWithSeq(r, r.seq - d) === r.hash) return r.seq - d
  }
  return undefined
}

async function findByHash(read: Reader, from: number, hash: string): Promise<StoredRecord | undefined> {
  for (let i = Math.max(0, from - WINDOW); i < from + WINDOW; i++) {
    const r = await read.at(i)
    if (r === undefined) {
      if (i >= from) break
      continue
    }
    if (r.hash === hash) return r
  }
  return undefined
}

/**
 * Walks a stream's chain from its checkpoint and answers the first record that was altered,
 * deleted, inserted or moved. Each record's hash is recomputed from its content, its link to
 * the record before is checked, and its seq must follow; at the first break, the records
 * around it tell which attack it was.
 */
export async function verifyChain(
  store: AuditStore,
  stream: string,
  state: StreamState | undefined,
  signal?: AbortSignal,
): Promise<Omit<VerifyResult, 'anchors'>> {
  const base = state?.base ?? { seq: 0, hash: GENESIS_HASH }
  const head = state?.head ?? { seq: 0, hash: GENESIS_HASH }
  const read = reader(store, stream, base.seq, signal)
  const result = (checked: number, problem?: ChainProblem): Omit<VerifyResult, 'anchors'> => ({
    ok: problem === undefined,
    stream,
    checked,
    head,
    base,
    ...(problem ? { problem } : {}),
  })
  let prev: StoredRecord | undefined
  let expected: ChainPoint = base
  for (let i = 0; ; i++) {
    const r = await read.at(i)
    if (r === undefined) break
    const selfOk = recordHash(r) === r.hash
    if (selfOk && r.seq === expected.seq + 1 && r.prevHash === expected.hash) {
      prev = r
      expected = { seq: r.seq, hash: r.hash }
      continue
    }
    return result(i, await classify(read, i, r, selfOk, prev, expected))
  }
  // The chain read ends; it must end where the head says.
  if (expected.seq < head.seq) {
    return result(expected.seq - base.seq, {
      kind: 'deleted',
      seq: expected.seq + 1,
      message: `The chain ends at #${expected.seq} but its head is #${head.seq}: records #${expected.seq + 1} to #${head.seq} were deleted`,
    })
  }
  if (expected.seq > head.seq) {
    return result(expected.seq - base.seq, {
      kind: 'inserted',
      seq: head.seq + 1,
      message: `Records after the head (#${head.seq}) were added without going through the chain's head`,
    })
  }
  if (expected.hash !== head.hash) {
    return result(expected.seq - base.seq, {
      kind: 'altered',
      seq: expected.seq,
      ...(prev ? { id: prev.id } : {}),
      message: `Record #${expected.seq} does not carry the hash the head recorded for it: it was replaced`,
    })
  }
  return result(expected.seq - base.seq)
}

async function classify(
  read: Reader,
  i: number,
  r: StoredRecord,
  selfOk: boolean,
  prev: StoredRecord | undefined,
  expected: ChainPoint,
): Promise<ChainProblem> {
  const at = (kind: ChainProblem['kind'], rec: StoredRecord, message: string): ChainProblem => ({
    kind,
    seq: rec.seq,
    id: rec.id,
    message,
  })
  if (r.seq <= expected.seq) {
    return at('inserted', r, `A second record claims #${r.seq}`)
  }
  if (!selfOk) {
    const original = originalSeq(r)
    if (original === undefined) {
      return at('altered', r, `Record #${r.seq} does not match its hash: its content was changed`)
    }
    if (original < r.seq && prev && prev.seq === original && prev.prevHash === r.prevHash) {
      return at(
        'inserted',
        prev,
        `Record #${prev.seq} was inserted: the record that was #${original} now sits after it`,
      )
    }
    const parent = r.prevHash === expected.hash ? expected : await findByHash(read, i, r.prevHash)
    if (original > r.seq && parent === undefined) {
      return {
        kind: 'deleted',
        seq: expected.seq + 1,
        message: `Record #${original} was renumbered to #${r.seq}: the record(s) before it were deleted`,
      }
    }
    return at('reordered', r, `Record #${original} is stored as #${r.seq}: records were moved`)
  }
  // The record is intact under its own seq, but does not follow the one before it.
  if (r.seq > expected.seq + 1) {
    return {
      kind: 'deleted',
      seq: expected.seq + 1,
      message: `Records #${expected.seq + 1} to #${r.seq - 1} are missing`,
    }
  }
  if (prev) {
    return at(
      'altered',
      prev,
      `Record #${prev.seq} is not the record #${r.seq} was chained to: it was changed and re-hashed`,
    )
  }
  return at('altered', r, `Record #${r.seq} is not chained to the retention checkpoint #${expected.seq}`)
}
