// The testkit Kafka broker at the byte level: record batches and CRC-32C, ApiVersions, topic
// creation, produce and fetch (long polling included), list offsets, metadata, and the
// idempotent producer's sequence checks, as a raw client sends them.
import { describe, expect, it } from 'vitest'
import { startKafkaBroker, crc32c, decodeRecords, encodeBatch } from '../src/kafka.ts'
import { batchCrcValid, splitBatches } from '../src/kafka/record-batch.ts'
import { brokerWithClients, createTopic, fetchPartition, produce, RawKafkaClient } from './support/kafka-client.ts'

const { broker, client } = await brokerWithClients({ defaultPartitions: 2 })
let topics = 0
const topicName = () => `t-${process.pid}-${++topics}`
const rec = (value: string, key: string | null = null) => ({
  timestamp: 1_700_000_000_000,
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from(value),
  headers: [{ key: 'h', value: Buffer.from('v') }],
})

describe('record batches', () => {
  it('computes CRC-32C (Castagnoli) as the check value of the standard says', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
    expect(crc32c(Buffer.alloc(0))).toBe(0)
  })

  it('encodes and decodes records with keys, null values, headers and offsets', () => {
    const batch = encodeBatch({
      baseOffset: 7,
      records: [rec('a', 'k'), { timestamp: 1_700_000_000_005, key: null, value: null, headers: [] }],
    })
    expect(batchCrcValid(batch)).toBe(true)
    const [first, second] = decodeRecords(batch)
    expect(first).toMatchObject({ offset: 7, timestamp: 1_700_000_000_000, headers: [{ key: 'h' }] })
    expect(first?.key?.toString()).toBe('k')
    expect(second).toMatchObject({ offset: 8, timestamp: 1_700_000_000_005, key: null, value: null })
    const corrupt = Buffer.from(batch)
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff
    expect(batchCrcValid(corrupt)).toBe(false)
    expect(splitBatches(Buffer.concat([batch, batch]))).toHaveLength(2)
    expect(() => splitBatches(batch.subarray(0, 30))).toThrow(RangeError)
    const compressed = Buffer.from(batch)
    compressed.writeInt16BE(1, 21)
    expect(() => decodeRecords(compressed)).toThrow(/uncompressed/)
    const magic1 = Buffer.from(batch)
    magic1.writeInt8(1, 16)
    expect(() => decodeRecords(magic1)).toThrow(/magic 1/)
  })
})

describe('kafka broker', () => {
  it('advertises the API versions it implements, and answers an unknown ApiVersions version in v0 layout', async () => {
    const c = await client()
    const r = await c.request(18, 2)
    expect(r.int16()).toBe(0)
    const keys = r.array((k) => [k.int16(), k.int16(), k.int16()])
    expect(keys.map((k) => k[0])).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19, 22])
    expect(keys.find((k) => k[0] === 15)).toEqual([15, 0, 0]) // DescribeGroups v0 only
    expect(r.int32()).toBe(0) // throttle_time_ms (v1+)
    const v0 = await c.request(18, 0)
    expect(v0.int16()).toBe(0)
    v0.array((k) => [k.int16(), k.int16(), k.int16()])
    expect(v0.remaining).toBe(0)
    const tooNew = await c.request(18, 9)
    expect(tooNew.int16()).toBe(35)
  })

  it('closes the connection on a request it does not implement, a bad version or an oversized frame', async () => {
    const a = await client()
    void a.request(50, 0)
    await a.closed
    const b = await client()
    void b.request(0, 9)
    await b.closed
    const small = await startKafkaBroker({ maxRequestBytes: 64 })
    try {
      const c = await RawKafkaClient.open(small.port)
      c.writeRaw(Buffer.from([0, 0, 1, 0]))
      await c.closed
      const d = await RawKafkaClient.open(small.port)
      void d.request(0, 3, (w) => w.int16(5)) // a string longer than the frame: a short frame
      await d.closed
    } finally {
      await small.close()
    }
  })

  it('creates topics, refusing an existing name, a bad name, bad partitions and more than one replica', async () => {
    const c = await client()
    const t = topicName()
    expect(await createTopic(c, t, 3)).toBe(0)
    expect(await createTopic(c, t, 3)).toBe(36)
    expect(await createTopic(c, 'bad name!', 1)).toBe(42)
    expect(await createTopic(c, topicName(), 0)).toBe(37)
    expect(await createTopic(c, topicName(), 1, 3)).toBe(38)
    expect(await createTopic(c, topicName(), -1, -1)).toBe(0)
    expect(broker.topicNames()).toContain(t)
    expect(broker.createTopic(t)).toBe(false)
  })

  it('appends batches at increasing offsets and fetches them back from any offset', async () => {
    const c = await client()
    const t = topicName()
    await createTopic(c, t, 1)
    expect(await produce(c, t, 0, encodeBatch({ records: [rec('a'), rec('b')] }))).toEqual([0, 0])
    expect(await produce(c, t, 0, encodeBatch({ records: [rec('c')] }))).toEqual([0, 2])
    const all = await fetchPartition(c, t, 0, 0)
    expect(all.highWatermark).toBe(3)
    expect(
      splitBatches(all.records)
        .flatMap(decodeRecords)
        .map((r) => [r.offset, r.value?.toString()]),
    ).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ])
    // From the middle of a batch: the whole batch comes back, the client skips what it has.
    const mid = await fetchPartition(c, t, 0, 1)
    expect(splitBatches(mid.records).flatMap(decodeRecords)[0]?.offset).toBe(0)
    expect((await fetchPartition(c, t, 0, 3)).records.length).toBe(0)
    expect((await fetchPartition(c, t, 0, 9)).error).toBe(1)
    expect((await fetchPartition(c, 'no-such-topic', 0, 0)).error).toBe(3)
    expect(broker.records(t).map((r) => r.value?.toString())).toEqual(['a', 'b', 'c'])
    expect(broker.endOffset(t)).toBe(3)
    expect(broker.records('no-such-topic')).toEqual([])
  })

  it('refuses a corrupt batch, an unknown partition and transactions; acks=0 gets no answer', async () => {
    const c = await client()
    const t = topicName()
    await createTopic(c, t, 1)
    const batch = encodeBatch({ records: [rec('a')] })
    const corrupt = Buffer.from(batch)
    corrupt[corrupt.length - 1] = 0
    expect(await produce(c, t, 0, corrupt)).toEqual([2, -1])
    expect(await produce(c, t, 5, batch)).toEqual([3, -1])
    expect(await produce(c, t, 0, batch, { transactionalId: 'tx' })).toEqual([42, -1])
    const transactional = encodeBatch({ records: [rec('a')] })
    transactional.writeInt16BE(0x10, 21)
    expect(await produce(c, t, 0, transactional)).toEqual([42, -1])
    void produce(c, t, 0, batch, { acks: 0 })
    // Answered in order: the next request's answer shows the acks=0 append happened before it.
    expect(await produce(c, t, 0, batch)).toEqual([0, 1])
  })

  it('holds a fetch at the end of the log until a record arrives (long polling)', async () => {
    const c = await client()
    const writer = await client()
    const t = topicName()
    await createTopic(c, t, 1)
    const waiting = fetchPartition(c, t, 0, 0, 30_000)
    let answered = false
    void waiting.then(() => (answered = true))
    await fetchPartition(writer, t, 0, 0) // a round trip: the long poll is now waiting
    expect(answered).toBe(false)
    await produce(writer, t, 0, encodeBatch({ records: [rec('late')] }))
    const got = await waiting
    expect(splitBatches(got.records).flatMap(decodeRecords)[0]?.value?.toString()).toBe('late')
  })

  it('ends a long poll when the broker closes', async () => {
    const b = await startKafkaBroker()
    const c = await RawKafkaClient.open(b.port)
    await createTopic(c, 'idle', 1)
    const waiting = fetchPartition(c, 'idle', 0, 0, 60_000).catch(() => undefined)
    await b.close()
    await c.closed
    c.close()
    void waiting
  })

  it('lists the earliest, latest and by-time offsets', async () => {
    const c = await client()
    const t = topicName()
    await createTopic(c, t, 1)
    await produce(c, t, 0, encodeBatch({ records: [rec('a')] }))
    await produce(c, t, 0, encodeBatch({ records: [{ ...rec('b'), timestamp: 1_800_000_000_000 }] }))
    const r = await c.request(2, 1, (w) =>
      w
        .int32(-1)
        .array([t, 'missing'], (tw, name) =>
          tw.string(name).array([-1, -2, 1_750_000_000_000, 1_900_000_000_000], (pw, ts) => pw.int32(0).int64(ts)),
        ),
    )
    const answer = r.array((tr) => {
      tr.string()
      return tr.array((p) => [p.int32(), p.int16(), p.long(), p.long()])
    })
    expect(answer[0]?.map((p) => [p[1], p[3]])).toEqual([
      [0, 2],
      [0, 0],
      [0, 1],
      [0, 2],
    ])
    expect(answer[1]?.every((p) => p[1] === 3)).toBe(true)
  })

  it('answers Metadata for every topic or those named, creates named ones, and advertises another address', async () => {
    const b = await startKafkaBroker({ defaultPartitions: 3 })
    const strict = await startKafkaBroker({ autoCreateTopics: false })
    try {
      const c = await RawKafkaClient.open(b.port)
      const read = async (k: RawKafkaClient, names: string[] | null) => {
        const r = await k.request(3, 1, (w) => (names === null ? w.int32(-1) : w.array(names, (nw, n) => nw.string(n))))
        const brokers = r.array((br) => ({
          id: br.int32(),
          host: br.string(),
          port: br.int32(),
          rack: br.nullableString(),
        }))
        r.int32()
        const ts = r.array((tr) => ({
          error: tr.int16(),
          name: tr.string(),
          internal: tr.int8(),
          partitions: tr.array((p) => [
            p.int16(),
            p.int32(),
            p.int32(),
            p.array((x) => x.int32()),
            p.array((x) => x.int32()),
          ]),
        }))
        return { brokers, topics: ts }
      }
      const named = await read(c, ['auto'])
      expect(named.topics).toMatchObject([{ error: 0, name: 'auto' }])
      expect(named.topics[0]?.partitions).toHaveLength(3)
      expect(named.brokers).toEqual([{ id: 1, host: '127.0.0.1', port: b.port, rack: null }])
      b.advertise('proxy.local', 1234)
      const every = await read(c, null)
      expect(every.topics.map((t) => t.name)).toEqual(['auto'])
      expect(every.brokers[0]).toMatchObject({ host: 'proxy.local', port: 1234 })
      c.close()
      const s = await RawKafkaClient.open(strict.port)
      expect((await read(s, ['nope'])).topics).toMatchObject([{ error: 3, name: 'nope', partitions: [] }])
      s.close()
    } finally {
      await b.close()
      await strict.close()
    }
  })

  it('stores an idempotent producer’s retried batch once and refuses gaps and old epochs', async () => {
    const c = await client()
    const t = topicName()
    await createTopic(c, t, 1)
    const init = await c.request(22, 0, (w) => w.nullableString(null).int32(60_000))
    init.int32()
    expect(init.int16()).toBe(0)
    const pid = init.long()
    expect(init.int16()).toBe(0)
    const batch = (seq: number, epoch = 0) =>
      encodeBatch({
        producerId: pid,
        producerEpoch: epoch,
        baseSequence: seq,
        records: [rec(`s${seq}`), rec(`s${seq}b`)],
      })
    expect(await produce(c, t, 0, batch(0))).toEqual([0, 0])
    expect(await produce(c, t, 0, batch(0))).toEqual([0, 0]) // a retry: the first offset again, nothing appended
    expect(await produce(c, t, 0, batch(2))).toEqual([0, 2])
    expect(await produce(c, t, 0, batch(9))).toEqual([45, -1])
    expect(await produce(c, t, 0, batch(4, 1))).toEqual([0, 4]) // a new epoch starts over
    expect(await produce(c, t, 0, batch(6, 0))).toEqual([47, -1])
    expect(broker.endOffset(t)).toBe(6)
    const tx = await c.request(22, 0, (w) => w.nullableString('tx').int32(60_000))
    tx.int32()
    expect(tx.int16()).toBe(42)
  })
})
