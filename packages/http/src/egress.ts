import dns from 'node:dns'
import net from 'node:net'
import { buildConnector } from 'undici'

/**
 * The address ranges `deny: 'private'` stands for: everything that is not the public internet
 * (loopback, RFC 1918, link-local with the cloud metadata address, CGNAT, "this network",
 * documentation, benchmarking, multicast and reserved space), in both families.
 */
const PRIVATE_RANGES = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
  // IPv6: unspecified, loopback and IPv4-compatible (::/96), discard, Teredo, documentation,
  // local-use NAT64, unique local, link-local, site-local, multicast.
  '::/96',
  '100::/64',
  '2001::/32',
  '2001:db8::/32',
  '64:ff9b:1::/48',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
]

/** The egress policy as written in options or env: `deny` rules (`private`, CIDRs, IPs), `allow` hosts or CIDRs. */
export interface EgressRules {
  deny: readonly string[]
  allow: readonly string[]
}

/** Thrown by the guarded connector; the exchange turns it into `HTTP_EGRESS_DENIED` with the call's method and URL. */
export class EgressRefusal extends Error {
  readonly host: string
  readonly address: string
  constructor(host: string, address: string) {
    super(`egress to ${host} (${address}) is refused by the egress policy`)
    this.name = 'EgressRefusal'
    this.host = host
    this.address = address
  }
}

/** Checks config text: `private`, an IP, or a CIDR. Throws a TypeError naming what is accepted. */
export function checkDenyRule(rule: string): void {
  if (rule === 'private') return
  if (parseCidr(rule) === undefined)
    throw new TypeError(`"${rule}" is neither "private" nor an IP address or CIDR (10.0.0.0/8, fd00::/8)`)
}

const HOST = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i

/** Checks config text: a host name, `*.example.com`, an IP, or a CIDR. */
export function checkAllowRule(rule: string): void {
  if (parseCidr(rule) === undefined && !HOST.test(rule))
    throw new TypeError(`"${rule}" is neither a host name (api.example.com, *.example.com) nor an IP address or CIDR`)
}

/**
 * An egress policy compiled once: which resolved addresses a connection may go to. `allow`
 * host names are trusted by name; every other connection is checked on the address it
 * actually connects to, so DNS rebinding and numeric spellings of an address cannot pass.
 */
export class EgressGuard {
  readonly #deny = new net.BlockList()
  readonly #allow = new net.BlockList()
  readonly #hosts = new Set<string>()
  readonly #suffixes: string[] = []

  constructor(rules: EgressRules) {
    for (const rule of rules.deny) {
      if (rule === 'private') for (const range of PRIVATE_RANGES) addCidr(this.#deny, range)
      else addCidr(this.#deny, rule)
    }
    for (const rule of rules.allow) {
      if (parseCidr(rule) !== undefined) addCidr(this.#allow, rule)
      else if (rule.startsWith('*.')) this.#suffixes.push(normalizeHost(rule.slice(1)))
      else this.#hosts.add(normalizeHost(rule))
    }
  }

  /** Whether the host name (as in the URL) is trusted without looking at its addresses. */
  allowsHost(hostname: string): boolean {
    const host = normalizeHost(hostname)
    if (this.#hosts.has(host)) return true
    for (const suffix of this.#suffixes) if (host.endsWith(suffix)) return true
    return false
  }

  /** Whether a connection to `address` (an IP, as the socket will use it) is refused. */
  denies(address: string): boolean {
    const ip = unbracket(address)
    const family = net.isIP(ip)
    if (family === 0) return true
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (this.#allow.check(ip, type)) return false
    if (this.#deny.check(ip, type)) return true
    if (family === 6) {
      // An IPv4 address carried inside IPv6 reaches that IPv4 host: judge it as one.
      const inner = embeddedIpv4(ip)
      if (inner !== undefined) return !this.#allow.check(inner, 'ipv4') && this.#deny.check(inner, 'ipv4')
    }
    return false
  }

  /**
   * A `lookup` for `net.connect` that drops denied addresses from what DNS answered and fails
   * with an EgressRefusal when none is left. What it hands on is what the socket connects to.
   */
  lookup(resolve: typeof dns.lookup = dns.lookup): net.LookupFunction {
    return (hostname, options, callback) => {
      resolve(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0)
        const list = addresses as unknown as dns.LookupAddress[]
        const allowed = list.filter((a) => !this.denies(a.address))
        const first = allowed[0]
        if (first === undefined) return callback(new EgressRefusal(hostname, list[0]?.address ?? 'no address'), '', 0)
        if (options.all) (callback as (e: null, a: dns.LookupAddress[]) => void)(null, allowed)
        else callback(null, first.address, first.family)
      })
    }
  }

  /**
   * An undici connector that applies the policy: IP literals are checked before connecting,
   * names through the guarded lookup, host names on the allow list pass untouched.
   */
  connector(options: buildConnector.BuildOptions): buildConnector.connector {
    const plain = buildConnector(options)
    const guarded = buildConnector({ ...options, lookup: this.lookup() } as buildConnector.BuildOptions)
    return (opts, callback) => {
      const hostname = unbracket(opts.hostname)
      if (this.allowsHost(hostname)) return plain(opts, callback)
      if (net.isIP(hostname) !== 0 && this.denies(hostname)) {
        const refusal = new EgressRefusal(hostname, hostname)
        // The connector contract is asynchronous; undici expects the callback on a later tick.
        queueMicrotask(() => callback(refusal, null))
        return
      }
      return guarded(opts, callback)
    }
  }
}

function normalizeHost(host: string): string {
  const lower = host.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

interface Cidr {
  address: string
  prefix: number
  type: 'ipv4' | 'ipv6'
}

function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  const address = unbracket(slash < 0 ? text : text.slice(0, slash))
  const family = net.isIP(address)
  if (family === 0) return undefined
  const max = family === 4 ? 32 : 128
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1))
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1))))
    return undefined
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' }
}

function addCidr(list: net.BlockList, text: string): void {
  const cidr = parseCidr(text)
  if (cidr === undefined) throw new TypeError(`"${text}" is not an IP address or CIDR`)
  list.addSubnet(cidr.address, cidr.prefix, cidr.type)
}

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, dotted tail folded in). */
function ipv6Groups(address: string): number[] {
  let text = address
  const zone = text.indexOf('%')
  if (zone >= 0) text = text.slice(0, zone)
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = rest === undefined || rest === '' ? [] : rest.split(':')
  const zeros = rest === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0')
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16))
}

/** The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`). */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address)
  const zeroTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0)
  let hi: number | undefined
  let lo: number | undefined
  if (zeroTo(5) && g[5] === 0xffff) [hi, lo] = [g[6], g[7]]
  else if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) [hi, lo] = [g[6], g[7]]
  else if (g[0] === 0x2002) [hi, lo] = [g[1], g[2]]
  if (hi === undefined || lo === undefined) return undefined
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}
