// The group coordinator: consumer-group membership (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup with session timeouts, DescribeGroups) and committed offsets, after the group protocol the Kafka
// documentation describes. Simplifications, on purpose: no initial rebalance delay (an empty
// group completes its first join at once), no static membership, offsets never expire.
import { randomUUID } from 'node:crypto'
import { ErrorCode } from './log.ts'

export interface JoinRequest {
  groupId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  memberId: string
  clientId: string
  /** The member's address as Kafka reports it (`/127.0.0.1`). */
  clientHost: string
  protocolType: string
  protocols: Array<{ name: string; metadata: Buffer }>
}

export interface JoinResult {
  error: number
  generationId: number
  protocolName: string
  leader: string
  memberId: string
  members: Array<{ memberId: string; metadata: Buffer }>
}

/** A group as DescribeGroups reports it. */
export interface GroupDescription {
  error: number
  state: GroupState | 'Dead'
  protocolType: string
  protocol: string
  members: Array<{ memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>
}

interface Member {
  id: string
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocols: Array<{ name: string; metadata: Buffer }>
  assignment: Buffer
  pendingJoin: ((r: JoinResult) => void) | undefined
  pendingSync: ((r: { error: number; assignment: Buffer }) => void) | undefined
  expiry: ReturnType<typeof setTimeout> | undefined
}

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable'

class Group {
  state: GroupState = 'Empty'
  generation = 0
  protocolType = ''
  protocol = ''
  leader = ''
  readonly members = new Map<string, Member>()
  rebalanceTimer: ReturnType<typeof setTimeout> | undefined
  readonly offsets = new Map<string, { offset: number; metadata: string }>()
}

const MIN_SESSION_MS = 1000
const MAX_SESSION_MS = 300_000

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>()

  #group(id: string): Group {
    let g = this.#groups.get(id)
    if (!g) {
      g = new Group()
      this.#groups.set(id, g)
    }
    return g
  }

  join(req: JoinRequest): Promise<JoinResult> {
    const g = this.#group(req.groupId)
    const fail = (error: number): Promise<JoinResult> =>
      Promise.resolve({ error, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] })
    if (req.sessionTimeoutMs < MIN_SESSION_MS || req.sessionTimeoutMs > MAX_SESSION_MS) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
    }
    if (req.memberId !== '' && !g.members.has(req.memberId)) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    const names = new Set(req.protocols.map((p) => p.name))
    const shared =
      g.members.size === 0 || [...g.members.values()].some((m) => m.protocols.some((p) => names.has(p.name)))
    if ((g.members.size > 0 && req.protocolType !== g.protocolType) || !shared || names.size === 0) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    }
    const id = req.memberId || `${req.clientId}-${randomUUID()}`
    const member: Member = g.members.get(id) ?? {
      id,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
      assignment: Buffer.alloc(0),
      pendingJoin: undefined,
      pendingSync: undefined,
      expiry: undefined,
    }
    Object.assign(member, {
      protocols: req.protocols,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
    })
    g.members.set(id, member)
    g.protocolType = req.protocolType
    this.#touch(req.groupId, g, member)
    const result = new Promise<JoinResult>((resolve) => {
      member.pendingJoin?.({ ...emptyJoin(id), error: ErrorCode.REBALANCE_IN_PROGRESS })
      member.pendingJoin = resolve
    })
    if (g.state !== 'PreparingRebalance') this.#prepareRebalance(g)
    this.#maybeCompleteJoin(g)
    return result
  }

  #prepareRebalance(g: Group): void {
    g.state = 'PreparingRebalance'
    for (const m of g.members.values()) {
      m.pendingSync?.({ error: ErrorCode.REBALANCE_IN_PROGRESS, assignment: Buffer.alloc(0) })
      m.pendingSync = undefined
    }
    const timeout = Math.max(0, ...[...g.members.values()].map((m) => m.rebalanceTimeoutMs))
    clearTimeout(g.rebalanceTimer)
    // Members that do not rejoin within the rebalance timeout are dropped from the generation.
    g.rebalanceTimer = setTimeout(() => {
      for (const m of [...g.members.values()]) if (!m.pendingJoin) this.#remove(g, m)
      this.#maybeCompleteJoin(g)
    }, timeout)
    g.rebalanceTimer.unref()
  }

  #maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return
    const members = [...g.members.values()]
    if (members.length === 0) {
      clearTimeout(g.rebalanceTimer)
      g.state = 'Empty'
      return
    }
    if (members.some((m) => !m.pendingJoin)) return
    clearTimeout(g.rebalanceTimer)
    g.generation++
    if (!g.members.has(g.leader)) g.leader = (members[0] as Member).id
    const leader = g.members.get(g.leader) as Member
    g.protocol =
      leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)))?.name ?? ''
    g.state = 'CompletingRebalance'
    for (const m of members) {
      const resolve = m.pendingJoin as (r: JoinResult) => void
      m.pendingJoin = undefined
      resolve({
        error: ErrorCode.NONE,
        generationId: g.generation,
        protocolName: g.protocol,
        leader: g.leader,
        memberId: m.id,
        members:
          m.id === g.leader
            ? members.map((x) => ({
                memberId: x.id,
                metadata: x.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0),
              }))
            : [],
      })
    }
  }

  sync(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: Array<{ memberId: string; assignment: Buffer }>,
  ): Promise<{ error: number; assignment: Buffer }> {
    const g = this.#group(groupId)
    const m = g.members.get(memberId)
    const fail = (error: number) => Promise.resolve({ error, assignment: Buffer.alloc(0) })
    if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    if (generationId !== g.generation) return fail(ErrorCode.ILLEGAL_GENERATION)
    if (g.state === 'PreparingRebalance') return fail(ErrorCode.REBALANCE_IN_PROGRESS)
    this.#touch(groupId, g, m)
    if (g.state === 'Stable') return Promise.resolve({ error: ErrorCode.NONE, assignment: m.assignment })
    const result = new Promise<{ error: number; assignment: Buffer }>((resolve) => (m.pendingSync = resolve))
    if (memberId === g.leader) {
      for (const x of g.members.values()) {
        x.assignment = assignments.find((a) => a.memberId === x.id)?.assignment ?? Buffer.alloc(0)
      }
      g.state = 'Stable'
      for (const x of g.members.values()) {
        x.pendingSync?.({ error: ErrorCode.NONE, assignment: x.assignment })
        x.pendingSync = undefined
      }
    }
    return result
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const g = this.#group(groupId)
    const m = g.members.get(memberId)
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID
    this.#touch(groupId, g, m)
    if (g.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION
    return ErrorCode.NONE
  }

  leave(groupId: string, memberId: string): number {
    const g = this.#group(groupId)
    const m = g.members.get(memberId)
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID
    this.#remove(g, m)
    return ErrorCode.NONE
  }

  #remove(g: Group, m: Member): void {
    clearTimeout(m.expiry)
    g.members.delete(m.id)
    m.pendingJoin?.({ ...emptyJoin(m.id), error: ErrorCode.UNKNOWN_MEMBER_ID })
    m.pendingSync?.({ error: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) })
    if (g.members.size === 0) {
      clearTimeout(g.rebalanceTimer)
      g.state = 'Empty'
      g.leader = ''
    } else if (g.state === 'PreparingRebalance') {
      this.#maybeCompleteJoin(g)
    } else {
      this.#prepareRebalance(g)
    }
  }

  /** A member that sends nothing within its session timeout is removed, as if it had left. */
  #touch(groupId: string, g: Group, m: Member): void {
    clearTimeout(m.expiry)
    m.expiry = setTimeout(() => {
      if (g.members.get(m.id) === m && this.#groups.get(groupId) === g) this.#remove(g, m)
    }, m.sessionTimeoutMs)
    m.expiry.unref()
  }

  /**
   * DescribeGroups: a group nobody joined and nothing committed to is `Dead`, as Kafka reports
   * an unknown group (no error); members' metadata and assignments only once `Stable`, as Kafka
   * gives them (before that they are empty).
   */
  describe(groupId: string): GroupDescription {
    const g = this.#groups.get(groupId)
    if (!g || (g.members.size === 0 && g.offsets.size === 0)) {
      return { error: ErrorCode.NONE, state: 'Dead', protocolType: '', protocol: '', members: [] }
    }
    const stable = g.state === 'Stable'
    return {
      error: ErrorCode.NONE,
      state: g.state,
      protocolType: g.protocolType,
      protocol: stable ? g.protocol : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.id,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable
          ? (m.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0))
          : Buffer.alloc(0),
        assignment: stable ? m.assignment : Buffer.alloc(0),
      })),
    }
  }

  /** Checks who may commit: a member of the current generation, or anyone outside group management (generation -1). */
  commitCheck(groupId: string, generationId: number, memberId: string): number {
    if (generationId < 0 && memberId === '') return ErrorCode.NONE
    const g = this.#group(groupId)
    if (!g.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID
    if (g.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION
    return ErrorCode.NONE
  }

  commit(groupId: string, topic: string, partition: number, offset: number, metadata: string): void {
    this.#group(groupId).offsets.set(`${topic}\u0000${partition}`, { offset, metadata })
  }

  committed(groupId: string, topic: string, partition: number): { offset: number; metadata: string } {
    return this.#groups.get(groupId)?.offsets.get(`${topic}\u0000${partition}`) ?? { offset: -1, metadata: '' }
  }

  close(): void {
    for (const g of this.#groups.values()) {
      clearTimeout(g.rebalanceTimer)
      for (const m of g.members.values()) clearTimeout(m.expiry)
    }
    this.#groups.clear()
  }
}

function emptyJoin(memberId: string): JoinResult {
  return { error: ErrorCode.NONE, generationId: -1, protocolName: '', leader: '', memberId, members: [] }
}
