// The testkit Kafka broker's group coordinator at the byte level: JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup through a rebalance, members dropped by the rebalance and session
// timeouts, FindCoordinator, DescribeGroups, and committed offsets (OffsetCommit, OffsetFetch).
import { describe, expect, it } from 'vitest'
import { eventually } from '../src/eventually.ts'
import { brokerWithClients, createTopic, type RawKafkaClient } from './support/kafka-client.ts'

const { broker, client } = await brokerWithClients()
let groups = 0
const groupName = () => `g-${process.pid}-${++groups}`

interface Joined {
  error: number
  generation: number
  protocol: string
  leader: string
  memberId: string
  members: string[]
}

const join = async (
  c: RawKafkaClient,
  group: string,
  memberId = '',
  o: { session?: number; rebalance?: number; type?: string; protocol?: string } = {},
): Promise<Joined> => {
  const r = await c.request(11, 1, (w) =>
    w
      .string(group)
      .int32(o.session ?? 10_000)
      .int32(o.rebalance ?? 10_000)
      .string(memberId)
      .string(o.type ?? 'consumer')
      .array([o.protocol ?? 'range'], (pw, name) => pw.string(name).nullableBytes(Buffer.from('meta'))),
  )
  return {
    error: r.int16(),
    generation: r.int32(),
    protocol: r.string(),
    leader: r.string(),
    memberId: r.string(),
    members: r.array((m) => {
      const id = m.string()
      m.bytes()
      return id
    }),
  }
}

const sync = async (
  c: RawKafkaClient,
  group: string,
  generation: number,
  memberId: string,
  assignments: Array<[string, string]> = [],
): Promise<[number, string]> => {
  const r = await c.request(14, 0, (w) =>
    w
      .string(group)
      .int32(generation)
      .string(memberId)
      .array(assignments, (aw, [m, a]) => aw.string(m).nullableBytes(Buffer.from(a))),
  )
  return [r.int16(), r.bytes().toString()]
}

const heartbeat = async (c: RawKafkaClient, group: string, generation: number, memberId: string): Promise<number> =>
  (await c.request(12, 0, (w) => w.string(group).int32(generation).string(memberId))).int16()

interface Described {
  error: number
  group: string
  state: string
  type: string
  protocol: string
  members: Array<[string, string, string, string, string]>
}

const describeGroups = async (c: RawKafkaClient, ...ids: string[]): Promise<Described[]> =>
  (await c.request(15, 0, (w) => w.array(ids, (gw, id) => gw.string(id)))).array((g) => ({
    error: g.int16(),
    group: g.string(),
    state: g.string(),
    type: g.string(),
    protocol: g.string(),
    members: g.array(
      (m) =>
        [m.string(), m.string(), m.string(), m.bytes().toString(), m.bytes().toString()] as [
          string,
          string,
          string,
          string,
          string,
        ],
    ),
  }))

const leave = async (c: RawKafkaClient, group: string, memberId: string): Promise<number> =>
  (await c.request(13, 0, (w) => w.string(group).string(memberId))).int16()

describe('kafka broker groups', () => {
  it('names itself the coordinator of every group', async () => {
    const c = await client()
    const r = await c.request(10, 0, (w) => w.string('any'))
    expect([r.int16(), r.int32(), r.string(), r.int32()]).toEqual([0, 1, '127.0.0.1', broker.port])
  })

  it('forms a generation, rebalances when a member joins and when one leaves', async () => {
    const a = await client()
    const b = await client()
    const g = groupName()
    const first = await join(a, g)
    expect(first).toMatchObject({ error: 0, generation: 1, protocol: 'range' })
    expect(first.leader).toBe(first.memberId)
    expect(first.members).toEqual([first.memberId])
    expect(await sync(a, g, 1, first.memberId, [[first.memberId, 'all']])).toEqual([0, 'all'])
    expect(await sync(a, g, 1, first.memberId)).toEqual([0, 'all']) // stable: the stored assignment
    expect(await heartbeat(a, g, 1, first.memberId)).toBe(0)
    // A second member: its join waits until the first rejoins, told so by its heartbeat.
    const secondJoin = join(b, g)
    await eventually(async () => expect(await heartbeat(a, g, 1, first.memberId)).toBe(27))
    const rejoin = await join(a, g, first.memberId)
    const second = await secondJoin
    expect(rejoin).toMatchObject({ error: 0, generation: 2, leader: first.memberId })
    expect(rejoin.members.sort()).toEqual([first.memberId, second.memberId].sort())
    expect(second).toMatchObject({ error: 0, generation: 2, members: [] })
    // The follower's sync waits for the leader's assignments.
    const followerSync = sync(b, g, 2, second.memberId)
    expect(
      await sync(a, g, 2, first.memberId, [
        [first.memberId, 'p0'],
        [second.memberId, 'p1'],
      ]),
    ).toEqual([0, 'p0'])
    expect(await followerSync).toEqual([0, 'p1'])
    expect(await heartbeat(b, g, 1, second.memberId)).toBe(22)
    expect(await sync(b, g, 1, second.memberId)).toEqual([22, ''])
    expect(await leave(b, g, second.memberId)).toBe(0)
    expect(await leave(b, g, second.memberId)).toBe(25)
    expect(await heartbeat(a, g, 2, first.memberId)).toBe(27)
    expect(await sync(a, g, 2, first.memberId)).toEqual([27, ''])
    expect((await join(a, g, first.memberId)).generation).toBe(3)
    expect(await leave(a, g, first.memberId)).toBe(0)
  })

  it('describes a group in each state, as kafkajs admin.setOffsets reads it', async () => {
    const a = await client()
    const b = await client()
    const g = groupName()
    const unknown = { error: 0, group: g, state: 'Dead', type: '', protocol: '', members: [] }
    expect(await describeGroups(a, g)).toEqual([unknown])
    const first = await join(a, g)
    const [joined] = await describeGroups(b, g)
    // Before the leader's sync: listed without metadata or assignment, and no protocol yet.
    expect(joined).toMatchObject({ state: 'CompletingRebalance', type: 'consumer', protocol: '' })
    expect(joined?.members).toEqual([[first.memberId, expect.any(String), '/127.0.0.1', '', '']])
    await sync(a, g, 1, first.memberId, [[first.memberId, 'p0']])
    const [stable] = await describeGroups(b, g, `${g}-other`)
    expect(stable).toMatchObject({ error: 0, group: g, state: 'Stable', protocol: 'range' })
    expect(stable?.members.map((m) => [m[0], m[3], m[4]])).toEqual([[first.memberId, 'meta', 'p0']])
    const pending = join(b, g)
    await eventually(async () => expect(await heartbeat(a, g, 1, first.memberId)).toBe(27))
    const c = await client() // b's connection is held by its join
    expect((await describeGroups(c, g))[0]?.state).toBe('PreparingRebalance')
    const second = await Promise.all([join(a, g, first.memberId), pending])
    for (const m of second) await leave(a, g, m.memberId)
    // No member left: Empty while the group has offsets, Dead as an unknown group otherwise.
    expect((await describeGroups(b, g))[0]).toEqual(unknown)
    const topic = `described-${process.pid}-${groups}`
    await createTopic(a, topic, 1)
    await a.request(8, 2, (w) =>
      w
        .string(g)
        .int32(-1)
        .string('')
        .int64(-1)
        .array([topic], (tw, name) => tw.string(name).array([0], (pw, p) => pw.int32(p).int64(1).nullableString(''))),
    )
    expect((await describeGroups(b, g))[0]).toEqual({ ...unknown, state: 'Empty', type: 'consumer' })
  })

  it('refuses unknown members, inconsistent protocols and session timeouts out of range', async () => {
    const a = await client()
    const g = groupName()
    expect((await join(a, g, 'nobody')).error).toBe(25)
    expect((await join(a, g, '', { session: 10 })).error).toBe(26)
    const m = await join(a, g)
    expect((await join(a, g, '', { type: 'connect' })).error).toBe(23)
    expect((await join(a, g, '', { protocol: 'other' })).error).toBe(23)
    expect(await heartbeat(a, g, 1, 'nobody')).toBe(25)
    expect(await sync(a, g, 1, 'nobody')).toEqual([25, ''])
    expect(await leave(a, g, m.memberId)).toBe(0)
  })

  it('drops a member that does not rejoin within the rebalance timeout, and one whose session expires', async () => {
    const a = await client()
    const b = await client()
    const g = groupName()
    const first = await join(a, g, '', { rebalance: 100, session: 1000 })
    await sync(a, g, 1, first.memberId, [[first.memberId, 'x']])
    // b joins; a never rejoins: after the rebalance timeout b forms the generation alone.
    const second = await join(b, g, '', { rebalance: 100, session: 1000 })
    expect(second).toMatchObject({ error: 0, generation: 2, leader: second.memberId, members: [second.memberId] })
    expect(await heartbeat(a, g, 2, first.memberId)).toBe(25)
    // b stops heartbeating: its session ends and it is no longer a member.
    await eventually(async () => expect(await heartbeat(b, g, 2, second.memberId)).toBe(25), { timeoutMs: 10_000 })
  })

  it('commits offsets for members of the current generation and for simple consumers, and fetches them', async () => {
    const a = await client()
    const g = groupName()
    const topic = `offsets-${process.pid}-${groups}`
    await createTopic(a, topic, 2)
    const commit = async (generation: number, memberId: string, t = topic) => {
      const r = await a.request(8, 2, (w) =>
        w
          .string(g)
          .int32(generation)
          .string(memberId)
          .int64(-1)
          .array([t], (tw, name) => tw.string(name).array([0], (pw, p) => pw.int32(p).int64(42).nullableString('m'))),
      )
      return r.array((tr) => (tr.string(), tr.array((p) => (p.int32(), p.int16()))[0]))[0]
    }
    const fetchOffsets = async () => {
      const r = await a.request(9, 1, (w) =>
        w.string(g).array([topic], (tw, name) => tw.string(name).array([0, 1], (pw, p) => pw.int32(p))),
      )
      return r.array((tr) => (tr.string(), tr.array((p) => [p.int32(), p.long(), p.nullableString(), p.int16()])))[0]
    }
    expect(await commit(-1, '')).toBe(0)
    expect(await fetchOffsets()).toEqual([
      [0, 42, 'm', 0],
      [1, -1, '', 0],
    ])
    const m = await join(a, g)
    expect(await commit(1, m.memberId)).toBe(0)
    expect(await commit(5, m.memberId)).toBe(22)
    expect(await commit(1, 'nobody')).toBe(25)
    expect(await commit(1, m.memberId, 'no-such-topic')).toBe(3)
    const b = await client()
    const pending = join(b, g)
    await eventually(async () => expect(await commit(1, m.memberId)).toBe(27))
    await join(a, g, m.memberId)
    await pending
  })
})
