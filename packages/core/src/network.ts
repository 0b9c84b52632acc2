// Node's socket and DNS error codes that mean "the peer could not be reached, or the connection
// broke", as opposed to an error the peer answered with. Drivers add their own codes on top.
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

/** True for a Node socket/DNS error code that means the connection failed or broke. */
export function isNetworkErrorCode(code: unknown): boolean {
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code)
}
