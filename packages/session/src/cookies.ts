/** The cookie attributes every session cookie gets. */
export interface CookieAttributes {
  secure: boolean
  sameSite: 'lax' | 'strict' | 'none'
  domain?: string | undefined
  path: string
}

/** Parses a Cookie header; the first value of a repeated name wins (as browsers order them). */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>()
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '')
  if (text.length > 64 * 1024) return out // far past any browser's limit: a hostile header
  for (const part of text.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim())
  }
  return out
}

/** One Set-Cookie value; `maxAgeSeconds` 0 deletes the cookie. */
export function serializeCookie(name: string, value: string, maxAgeSeconds: number, a: CookieAttributes): string {
  const parts = [`${name}=${value}`, `Path=${a.path}`, `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, 'HttpOnly']
  if (maxAgeSeconds <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT')
  if (a.domain) parts.push(`Domain=${a.domain}`)
  if (a.secure) parts.push('Secure')
  parts.push(`SameSite=${a.sameSite === 'lax' ? 'Lax' : a.sameSite === 'strict' ? 'Strict' : 'None'}`)
  return parts.join('; ')
}

/** Browsers keep about 4 KiB per cookie; a sealed value is split in parts of this size. */
export const CHUNK = 3800
