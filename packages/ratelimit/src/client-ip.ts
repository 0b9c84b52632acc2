import { BlockList, isIP } from 'node:net'

/** How the middleware finds the client behind proxies. */
export interface ClientIpOptions {
  /** Addresses or CIDRs (`10.0.0.0/8`, `::1`) whose forwarding headers are believed. Default none. */
  trustedProxies?: readonly string[]
  /** IPv6 clients are keyed by this prefix length. Default 56. */
  ipv6Subnet?: number
}

/** A trusted-proxy list compiled once. */
export function compileTrusted(list: readonly string[]): BlockList {
  const b = new BlockList()
  for (const entry of list) {
    const [address = '', bits] = entry.trim().split('/')
    const family = isIP(address)
    if (family === 0) throw new TypeError(`"${entry}" in the trusted proxies is not an IP address or CIDR`)
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) b.addAddress(address, type)
    else b.addSubnet(address, Number(bits), type)
  }
  return b
}

function unmap(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return m ? (m[1] as string) : ip
}

function trusted(list: BlockList, ip: string): boolean {
  const family = isIP(ip)
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4')
}

/** The hops a request passed, nearest last: Forwarded `for=` values, else X-Forwarded-For. */
function forwardedChain(headers: Record<string, string | string[] | undefined>): string[] {
  const join = (h: string | string[] | undefined): string => (Array.isArray(h) ? h.join(',') : (h ?? ''))
  const forwarded = join(headers.forwarded)
  if (forwarded) {
    const hops: string[] = []
    for (const element of forwarded.split(',')) {
      const m = /(?:^|;)\s*for=("?)([^";]*)\1/i.exec(element.trim())
      let v = (m?.[2] ?? '').trim()
      if (v.startsWith('[')) v = v.slice(1, v.indexOf(']') === -1 ? undefined : v.indexOf(']'))
      else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':'))
      hops.push(v)
    }
    return hops
  }
  return join(headers['x-forwarded-for'])
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/**
 * The client's address: the peer, or, while the peer is a trusted proxy, the hop before it
 * in the forwarding headers (right to left). A malformed hop stops the walk at the last
 * trusted proxy, so a client can never choose its own key by sending a header.
 */
export function clientIp(
  remoteAddress: string | undefined,
  headers: Record<string, string | string[] | undefined>,
  trustedList: BlockList | undefined,
): string {
  let ip = unmap(remoteAddress ?? '')
  if (!trustedList || !trusted(trustedList, ip)) return ip
  const chain = forwardedChain(headers)
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = unmap(chain[i] as string)
    if (isIP(hop) === 0) break
    ip = hop
    if (!trusted(trustedList, hop)) break
  }
  return ip
}

function expand(ip: string): number[] {
  const [head = '', tail] = ip.split('::')
  const part = (s: string | undefined): number[] => (s ? s.split(':').map((h) => parseInt(h, 16)) : [])
  const a = part(head)
  const b = part(tail)
  const fill = tail === undefined ? [] : new Array<number>(8 - a.length - b.length).fill(0)
  return [...a, ...fill, ...b]
}

/**
 * The rate-limit key of an address: IPv4 as is, IPv6 cut to its `/subnet` prefix (default
 * /56), so a host that owns a /64 cannot rotate through it to get a fresh budget.
 */
export function ipKey(ip: string, subnet = 56): string {
  const family = isIP(ip)
  if (family !== 6) return `ip:${ip}`
  const words = expand(ip.split('%')[0] as string)
  let bits = subnet
  const kept = words.map((w) => {
    const take = Math.max(0, Math.min(16, bits))
    bits -= 16
    return take === 16 ? w : take === 0 ? 0 : w & (0xffff << (16 - take))
  })
  return `ip:${kept.map((w) => w.toString(16)).join(':')}/${subnet}`
}
