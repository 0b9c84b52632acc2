/** Longest link target stored, after normalization (percent-encoding can triple a raw length). */
export const MAX_TARGET_LENGTH = 2048

// C0 controls and DEL: the URL parser would silently drop a tab or newline inside the input,
// so "https://exa\nmple.com" would become another address than the one the user pasted.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * The form a link target is stored and redirected to: the WHATWG-normalized `href` (IDN host in
 * punycode, spaces and emoji percent-encoded), so every later redirect sends a valid Location
 * header. Refused with the reason: anything but an absolute http(s) URL, control characters,
 * credentials in the URL (they would leak through the Location header and logs), and
 * targets longer than MAX_TARGET_LENGTH once normalized.
 */
export function normalizeTarget(input: unknown): { ok: true; url: string } | { ok: false; reason: string } {
  if (typeof input !== 'string' || input.trim() === '')
    return { ok: false, reason: 'body must be {"url": "https://..."}' }
  if (input.length > MAX_TARGET_LENGTH)
    return { ok: false, reason: `url is longer than ${MAX_TARGET_LENGTH} characters` }
  if (CONTROL.test(input)) return { ok: false, reason: 'url contains control characters' }
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    return { ok: false, reason: 'url is not an absolute URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `url must be http or https, not ${url.protocol.slice(0, -1)}` }
  if (url.username !== '' || url.password !== '')
    return { ok: false, reason: 'url must not carry a user name or password' }
  if (url.href.length > MAX_TARGET_LENGTH)
    return { ok: false, reason: `url is longer than ${MAX_TARGET_LENGTH} characters once normalized` }
  return { ok: true, url: url.href }
}
