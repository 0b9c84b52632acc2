// The requests this broker answers, each at the one version it advertises in ApiVersions
// (the versions kafkajs 2.x picks as the highest it shares with the broker), decoded and
// encoded after the message schemas of kafka.apache.org/protocol. Request bodies are read
// with WireReader, response bodies written with WireWriter; the header is the broker's.
import type { GroupCoordinator } from './groups.ts'
import { ErrorCode, type TopicStore } from './log.ts'
import type { WireReader } from './wire.ts'
import { WireWriter } from './wire.ts'

/** What a handler can reach. */
export interface BrokerState {
  topics: TopicStore
  groups: GroupCoordinator
  nodeId: number
  /** Where clients are told to connect (the proxy's address in a fault test). */
  advertised(): { host: string; port: number }
  autoCreateTopics: boolean
  defaultPartitions: number
  nextProducerId(): number
  /** Resolves when `watch` fired or after `ms`; a closing broker resolves every wait. */
  waitForData(ms: number, watch: (wake: () => void) => () => void): Promise<void>
}

export interface RequestContext {
  version: number
  clientId: string
  /** The client's address as Kafka reports it in DescribeGroups (`/127.0.0.1`). */
  clientHost: string
  state: BrokerState
}

/** A handler resolves the response body, or undefined for a request that gets none (acks=0). */
type Handler = (r: WireReader, ctx: RequestContext) => Promise<WireWriter | undefined> | WireWriter | undefined

export interface ApiDefinition {
  name: string
  minVersion: number
  maxVersion: number
  handle: Handler
}

const partitionsOf = <T>(r: WireReader, item: (r: WireReader) => T) => ({ name: r.string(), partitions: r.array(item) })

const produce: Handler = (r, { state }) => {
  const transactionalId = r.nullableString()
  const acks = r.int16()
  r.int32() // timeout_ms: appends are synchronous here
  const topics = r.array((t) => partitionsOf(t, (p) => ({ index: p.int32(), records: p.nullableBytes() })))
  const results = topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      const log = state.topics.partition(t.name, p.index)
      if (!log) return { index: p.index, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, base: -1 }
      // Transactions are out of scope: a transactional produce is refused, never half-honoured.
      if (transactionalId !== null || !p.records || isTransactional(p.records)) {
        return { index: p.index, error: ErrorCode.INVALID_REQUEST, base: -1 }
      }
      const { error, baseOffset } = log.append(p.records)
      return { index: p.index, error, base: baseOffset }
    }),
  }))
  if (acks === 0) return undefined
  return new WireWriter()
    .array(results, (w, t) =>
      w.string(t.name).array(t.partitions, (pw, p) => pw.int32(p.index).int16(p.error).int64(p.base).int64(-1)),
    )
    .int32(0)
}

function isTransactional(records: Buffer): boolean {
  return records.length >= 23 && (records.readInt16BE(21) & 0x10) !== 0
}

const fetch: Handler = async (r, { state }) => {
  r.int32() // replica_id
  const maxWaitMs = Math.max(0, Math.min(r.int32(), 60_000))
  const minBytes = r.int32()
  const maxBytes = r.int32()
  r.int8() // isolation_level: nothing is transactional here, so both levels read the same
  const topics = r.array((t) => partitionsOf(t, (p) => ({ index: p.int32(), offset: p.long(), maxBytes: p.int32() })))
  const collect = () => {
    let budget = maxBytes
    let total = 0
    const out = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const log = state.topics.partition(t.name, p.index)
        if (!log)
          return { index: p.index, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, hw: -1, records: Buffer.alloc(0) }
        const read = log.read(p.offset, Math.min(p.maxBytes, Math.max(1, budget)))
        budget -= read.records.length
        total += read.records.length
        return { index: p.index, error: read.error, hw: log.endOffset, records: read.records }
      }),
    }))
    return { out, total }
  }
  let result = collect()
  // Long polling: hold the request until data arrives on any partition asked for, or max wait.
  if (
    result.total < Math.max(1, minBytes) &&
    maxWaitMs > 0 &&
    !result.out.some((t) => t.partitions.some((p) => p.error))
  ) {
    await state.waitForData(maxWaitMs, (wake) => {
      const stops = topics.flatMap((t) =>
        t.partitions.map((p) => state.topics.partition(t.name, p.index)?.watch(wake) ?? (() => false)),
      )
      return () => stops.forEach((stop) => stop())
    })
    result = collect()
  }
  return new WireWriter()
    .int32(0)
    .array(result.out, (w, t) =>
      w
        .string(t.name)
        .array(t.partitions, (pw, p) =>
          pw.int32(p.index).int16(p.error).int64(p.hw).int64(p.hw).int32(-1).nullableBytes(p.records),
        ),
    )
}

const listOffsets: Handler = (r, { state }) => {
  r.int32() // replica_id
  const topics = r.array((t) => partitionsOf(t, (p) => ({ index: p.int32(), timestamp: p.long() })))
  return new WireWriter().array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (pw, p) => {
      const log = state.topics.partition(t.name, p.index)
      if (!log) return void pw.int32(p.index).int16(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).int64(-1).int64(-1)
      // -1: the latest offset (the next to be written); -2: the earliest; else the first at or after that time.
      const offset =
        p.timestamp === -1 ? log.endOffset : p.timestamp === -2 ? log.startOffset : log.offsetForTime(p.timestamp)
      pw.int32(p.index).int16(ErrorCode.NONE).int64(-1).int64(offset)
    }),
  )
}

const metadata: Handler = (r, { state }) => {
  const asked = r.int32()
  const names: string[] = []
  for (let i = 0; i < asked; i++) names.push(r.string())
  // A null array (-1) asks for every topic.
  const wanted = asked < 0 ? state.topics.names() : names
  if (state.autoCreateTopics) for (const n of wanted) state.topics.create(n, state.defaultPartitions)
  const { host, port } = state.advertised()
  const node = state.nodeId
  return new WireWriter()
    .array([node], (w, id) => w.int32(id).string(host).int32(port).nullableString(null))
    .int32(node)
    .array(wanted, (w, name) => {
      const indexes = (state.topics.topic(name) ?? []).map((_, i) => i)
      w.int16(indexes.length > 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        .string(name)
        .int8(0)
        .array(indexes, (pw, i) =>
          pw
            .int16(ErrorCode.NONE)
            .int32(i)
            .int32(node)
            .array([node], (nw, n) => nw.int32(n))
            .array([node], (nw, n) => nw.int32(n)),
        )
    })
}

const createTopics: Handler = (r, { state }) => {
  const topics = r.array((t) => {
    const name = t.string()
    const partitions = t.int32()
    const replication = t.int16()
    const assignments = t.array((a) => ({ index: a.int32(), brokers: a.array((b) => b.int32()) }))
    t.array((c) => ({ name: c.string(), value: c.nullableString() })) // configs: accepted, not applied
    return { name, partitions, replication, assignments }
  })
  r.int32() // timeout_ms: creation is immediate
  return new WireWriter().array(topics, (w, t) => {
    // One broker: a replication factor above one cannot be honoured, manual assignments are not supported.
    const error =
      t.replication !== -1 && t.replication !== 1
        ? ErrorCode.INVALID_REPLICATION_FACTOR
        : t.assignments.length > 0
          ? ErrorCode.INVALID_REQUEST
          : state.topics.create(t.name, t.partitions === -1 ? state.defaultPartitions : t.partitions)
    w.string(t.name).int16(error)
  })
}

const initProducerId: Handler = (r, { state }) => {
  const transactionalId = r.nullableString()
  r.int32() // transaction_timeout_ms
  // Only the idempotent producer: a transactional id asks for transactions, which are not implemented.
  if (transactionalId !== null) return new WireWriter().int32(0).int16(ErrorCode.INVALID_REQUEST).int64(-1).int16(-1)
  return new WireWriter().int32(0).int16(ErrorCode.NONE).int64(state.nextProducerId()).int16(0)
}

const findCoordinator: Handler = (r, { state }) => {
  r.string() // key: this broker coordinates every group
  const { host, port } = state.advertised()
  return new WireWriter().int16(ErrorCode.NONE).int32(state.nodeId).string(host).int32(port)
}

const joinGroup: Handler = async (r, { state, clientId, clientHost }) => {
  const groupId = r.string()
  const sessionTimeoutMs = r.int32()
  const rebalanceTimeoutMs = r.int32()
  const memberId = r.string()
  const protocolType = r.string()
  const protocols = r.array((p) => ({ name: p.string(), metadata: p.bytes() }))
  const res = await state.groups.join({
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId,
    clientId,
    clientHost,
    protocolType,
    protocols,
  })
  return new WireWriter()
    .int16(res.error)
    .int32(res.generationId)
    .string(res.protocolName)
    .string(res.leader)
    .string(res.memberId)
    .array(res.members, (w, m) => w.string(m.memberId).nullableBytes(m.metadata))
}

const syncGroup: Handler = async (r, { state }) => {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  const assignments = r.array((a) => ({ memberId: a.string(), assignment: a.bytes() }))
  const res = await state.groups.sync(groupId, generationId, memberId, assignments)
  return new WireWriter().int16(res.error).nullableBytes(res.assignment)
}

const heartbeat: Handler = (r, { state }) => {
  const groupId = r.string()
  const generationId = r.int32()
  return new WireWriter().int16(state.groups.heartbeat(groupId, generationId, r.string()))
}

const leaveGroup: Handler = (r, { state }) => {
  const groupId = r.string()
  return new WireWriter().int16(state.groups.leave(groupId, r.string()))
}

const describeGroups: Handler = (r, { state }) => {
  const groupIds = r.array((g) => g.string())
  return new WireWriter().array(groupIds, (w, groupId) => {
    const g = state.groups.describe(groupId)
    w.int16(g.error)
      .string(groupId)
      .string(g.state)
      .string(g.protocolType)
      .string(g.protocol)
      .array(g.members, (mw, m) =>
        mw
          .string(m.memberId)
          .string(m.clientId)
          .string(m.clientHost)
          .nullableBytes(m.metadata)
          .nullableBytes(m.assignment),
      )
  })
}

const offsetCommit: Handler = (r, { state }) => {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  r.long() // retention_time_ms: offsets are kept for the broker's life
  const topics = r.array((t) =>
    partitionsOf(t, (p) => ({ index: p.int32(), offset: p.long(), metadata: p.nullableString() })),
  )
  const allowed = state.groups.commitCheck(groupId, generationId, memberId)
  return new WireWriter().array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (pw, p) => {
      let error: number = allowed
      if (error === ErrorCode.NONE && !state.topics.partition(t.name, p.index))
        error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      if (error === ErrorCode.NONE) state.groups.commit(groupId, t.name, p.index, p.offset, p.metadata ?? '')
      pw.int32(p.index).int16(error)
    }),
  )
}

const offsetFetch: Handler = (r, { state }) => {
  const groupId = r.string()
  const topics = r.array((t) => ({ name: t.string(), partitions: t.array((p) => p.int32()) }))
  return new WireWriter().array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (pw, index) => {
      const c = state.groups.committed(groupId, t.name, index)
      pw.int32(index).int64(c.offset).nullableString(c.metadata).int16(ErrorCode.NONE)
    }),
  )
}

const apiVersions: Handler = (_r, { version }) => {
  const w = new WireWriter()
    .int16(ErrorCode.NONE)
    .array(Object.entries(apis), (aw, [key, api]) => aw.int16(Number(key)).int16(api.minVersion).int16(api.maxVersion))
  return version >= 1 ? w.int32(0) : w
}

/** API key → the versions advertised and the handler (kafka.apache.org/protocol, "Api Keys"). */
export const apis: Record<number, ApiDefinition> = {
  0: { name: 'Produce', minVersion: 3, maxVersion: 3, handle: produce },
  1: { name: 'Fetch', minVersion: 4, maxVersion: 4, handle: fetch },
  2: { name: 'ListOffsets', minVersion: 1, maxVersion: 1, handle: listOffsets },
  3: { name: 'Metadata', minVersion: 1, maxVersion: 1, handle: metadata },
  8: { name: 'OffsetCommit', minVersion: 2, maxVersion: 2, handle: offsetCommit },
  9: { name: 'OffsetFetch', minVersion: 1, maxVersion: 1, handle: offsetFetch },
  10: { name: 'FindCoordinator', minVersion: 0, maxVersion: 0, handle: findCoordinator },
  11: { name: 'JoinGroup', minVersion: 1, maxVersion: 1, handle: joinGroup },
  12: { name: 'Heartbeat', minVersion: 0, maxVersion: 0, handle: heartbeat },
  13: { name: 'LeaveGroup', minVersion: 0, maxVersion: 0, handle: leaveGroup },
  14: { name: 'SyncGroup', minVersion: 0, maxVersion: 0, handle: syncGroup },
  15: { name: 'DescribeGroups', minVersion: 0, maxVersion: 0, handle: describeGroups },
  18: { name: 'ApiVersions', minVersion: 0, maxVersion: 2, handle: apiVersions },
  19: { name: 'CreateTopics', minVersion: 0, maxVersion: 0, handle: createTopics },
  22: { name: 'InitProducerId', minVersion: 0, maxVersion: 0, handle: initProducerId },
}

/** The ApiVersions answer to a version it does not know: v0's layout with UNSUPPORTED_VERSION, so the client retries lower. */
export function unsupportedApiVersions(): WireWriter {
  return new WireWriter()
    .int16(ErrorCode.UNSUPPORTED_VERSION)
    .array(Object.entries(apis), (aw, [key, api]) => aw.int16(Number(key)).int16(api.minVersion).int16(api.maxVersion))
}
