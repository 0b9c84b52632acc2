import { rootCertificates } from 'node:tls'
import { Agent, type Dispatcher } from 'undici'
import type { HttpConfig } from './config.ts'
import type { EgressGuard } from './egress.ts'
import type { TlsOptions } from './options.ts'

/**
 * The connection pools of a client: undici Agents it made (one per connect timeout in use,
 * the egress guard and TLS settings in their connector), or the dispatcher the caller gave,
 * which is used as is and never closed.
 */
export class Pools {
  readonly #config: HttpConfig
  readonly #given: Dispatcher | undefined
  readonly #egress: EgressGuard | undefined
  readonly #tls: TlsOptions
  readonly #agents = new Map<number, Agent>()
  readonly #default: Dispatcher

  constructor(config: HttpConfig, given: Dispatcher | undefined, egress: EgressGuard | undefined, tls: TlsOptions) {
    this.#config = config
    this.#given = given
    this.#egress = egress
    this.#tls = tls
    this.#default = given ?? this.#agent(config.timeouts.connect)
  }

  /** Whether the client sends through its own pools (false with a caller's dispatcher). */
  get own(): boolean {
    return this.#given === undefined
  }

  /** The dispatcher for a call with this connect timeout: a per-call value other than the client's uses a second pool. */
  for(connectMs: number): Dispatcher {
    if (this.#given !== undefined || connectMs === this.#config.timeouts.connect) return this.#default
    return this.#agent(connectMs)
  }

  /** Closes the pools the client made, letting requests in flight finish. */
  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((agent) => agent.close()))
  }

  #agent(connectMs: number): Agent {
    let agent = this.#agents.get(connectMs)
    if (agent === undefined) {
      const c = this.#config
      const connect = { timeout: connectMs, allowH2: c.pool.http2, ...tlsOptions(c, this.#tls) }
      agent = new Agent({
        connect: this.#egress === undefined ? connect : this.#egress.connector(connect),
        keepAliveTimeout: c.pool.keepAlive,
        connections: c.pool.connections === 0 ? null : c.pool.connections,
        pipelining: c.pool.pipelining,
        allowH2: c.pool.http2,
        // The client enforces its own limits per call; the pool keeps undici's defaults out of the way.
        headersTimeout: c.timeouts.headers,
        bodyTimeout: c.timeouts.body,
      })
      this.#agents.set(connectMs, agent)
    }
    return agent
  }
}

/** The CA (added to the system's, which a bare `ca` would replace), client certificate and key. */
function tlsOptions(c: HttpConfig, tls: TlsOptions): { ca?: string[]; cert?: string | Buffer; key?: string | Buffer } {
  const out: { ca?: string[]; cert?: string | Buffer; key?: string | Buffer } = {}
  if (c.tls.ca !== undefined) out.ca = [...rootCertificates, c.tls.ca]
  if (tls.cert !== undefined) out.cert = tls.cert
  if (tls.key !== undefined) out.key = tls.key
  return out
}
