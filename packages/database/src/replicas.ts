import { maskUrl } from '@beaver-kit/config'
import { channels } from './channels.ts'
import type { ConnectionSettings, DatabaseDriver, PoolStats } from './driver.ts'

const READ = /^\s*(select|with|show|values|table|explain)\b/i
const LOCKING = /\bfor\s+(update|share|no\s+key\s+update|key\s+share)\b|\b(insert|update|delete|merge)\b/i

/**
 * Whether a statement may go to a replica: a read (`SELECT`, `WITH`, `SHOW`...) that neither
 * locks rows (`FOR UPDATE`/`FOR SHARE`) nor modifies data (a CTE with INSERT/UPDATE/DELETE).
 */
export function isReplicaRead(text: string): boolean {
  return READ.test(text) && !LOCKING.test(text)
}

/** One read replica: its settings, its pool once opened, and whether it is in rotation. */
export interface Replica {
  readonly url: string
  readonly settings: ConnectionSettings
  /** Opening or open. */
  pool: Promise<DatabaseDriver> | undefined
  /** Open. */
  ready: DatabaseDriver | undefined
  up: boolean
  probe: NodeJS.Timeout | undefined
}

/** What the replica set needs from its database. */
export interface ReplicaHost {
  readonly driver: string
  isClosed(): boolean
  openDriver(settings: ConnectionSettings): Promise<DatabaseDriver>
}

/**
 * The read replicas of a database: round-robin among those up, a failing one taken out and
 * probed in the background until it answers again (`beaver:database:replica` on each change).
 */
export class ReplicaSet {
  readonly #replicas: Replica[]
  readonly #host: ReplicaHost
  readonly #probeIntervalMs: number
  #next = 0

  constructor(
    urls: readonly string[],
    settingsOf: (url: string) => ConnectionSettings,
    host: ReplicaHost,
    probeIntervalMs: number,
  ) {
    this.#host = host
    this.#probeIntervalMs = probeIntervalMs
    this.#replicas = urls.map((url) => ({
      url,
      settings: settingsOf(url),
      pool: undefined,
      ready: undefined,
      up: true,
      probe: undefined,
    }))
  }

  get size(): number {
    return this.#replicas.length
  }

  /** The next replica in rotation, or undefined when every one is down. */
  pick(): Replica | undefined {
    const n = this.#replicas.length
    for (let i = 0; i < n; i++) {
      const r = this.#replicas[(this.#next + i) % n] as Replica
      if (r.up) {
        this.#next = (this.#next + i + 1) % n
        return r
      }
    }
    return undefined
  }

  /** The replica's pool, opened on first use. */
  open(r: Replica): Promise<DatabaseDriver> {
    r.pool ??= this.#host.openDriver(r.settings).then(
      (p) => (r.ready = p),
      (err: unknown) => {
        r.pool = undefined
        throw err
      },
    )
    return r.pool
  }

  /** Takes a replica out of rotation and probes it every interval until `select 1` answers. */
  markDown(r: Replica, error: unknown): void {
    if (!r.up) return
    r.up = false
    if (channels.replica.hasSubscribers) channels.replica.publish({ replica: maskUrl(r.url), state: 'down', error })
    const interval = this.#probeIntervalMs
    const probe = async (): Promise<void> => {
      if (this.#host.isClosed()) return
      try {
        const pool = r.ready ?? (await this.open(r))
        await pool.query('select 1', [], { timeoutMs: Math.max(1000, interval) })
        r.up = true
        r.probe = undefined
        if (channels.replica.hasSubscribers) channels.replica.publish({ replica: maskUrl(r.url), state: 'up' })
      } catch {
        // Still down: the failure is what we expected while probing; try again later.
        schedule()
      }
    }
    const schedule = (): void => {
      r.probe = setTimeout(() => void probe(), interval)
      r.probe.unref()
    }
    schedule()
  }

  stats(): Array<{ url: string; up: boolean } & PoolStats> {
    return this.#replicas.map((r) => ({
      url: maskUrl(r.url),
      up: r.up,
      ...(r.ready?.stats() ?? { total: 0, idle: 0, waiting: 0, max: r.settings.pool.max }),
    }))
  }

  /** Stops probing; returns the pools opened or opening, for the database to close. */
  stop(): Array<Promise<DatabaseDriver>> {
    for (const r of this.#replicas) clearTimeout(r.probe)
    return this.#replicas.map((r) => r.pool).filter((p): p is Promise<DatabaseDriver> => p !== undefined)
  }
}
