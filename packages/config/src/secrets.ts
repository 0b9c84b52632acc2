// What counts as a secret by its name, and masking of the places secrets hide in text that is
// not itself secret: URL userinfo and query parameters, list items, JSON fields. describe(),
// ConfigError and the logger all use these, so "masked" means the same thing kit-wide.

/** What a masked value is replaced with. */
export const MASK = '****'

// Names are compared normalized: lower case, letters and digits only, so `x-api-key`,
// `api_key`, `apiKey` and `API_KEY` are one name.
/** Secret when the normalized name contains one of these anywhere (`passwordHash`, `db_password`). */
const CONTAINS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'credential',
  'privatekey',
  'apikey',
  'accesskey',
  'authorization',
  'cookie',
  'sessionid',
]
/** Secret when the normalized name ends with one of these (`accessToken`, but not `tokenCount`). */
const SUFFIXES = ['token', 'pwd', 'jwt', 'auth', 'signature', 'sig', 'sid', 'otp', 'signingkey', 'encryptionkey']
/** Secret only as the whole name. */
const EXACT = ['pass']

/** The built-in names, for docs: a name matches when its normalized form contains or ends with one. */
export const SECRET_NAME_PATTERNS: readonly string[] = Object.freeze([...CONTAINS, ...SUFFIXES, ...EXACT])

/**
 * The same names by how they match, for code that must rule keys out fast (the logger's
 * redaction: a key shorter than every `contains` pattern can only match a suffix or exact name).
 */
export const SECRET_NAME_RULES: Readonly<{
  contains: readonly string[]
  suffixes: readonly string[]
  exact: readonly string[]
}> = Object.freeze({
  contains: Object.freeze(CONTAINS),
  suffixes: Object.freeze(SUFFIXES),
  exact: Object.freeze(EXACT),
})

/** `X-Api-Key` → `xapikey`: the form names are compared in. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

/**
 * Whether a field, header or parameter name says its value is a secret: `password`,
 * `passwordHash`, `password_confirmation`, `apiKey`, `x-api-key`, `api_key`, `privateKey`,
 * `client_secret`, `credentials`, `cookies`, `set-cookie`, `authorization`, `accessToken`,
 * `jwt`, `sessionId`, `passwd`, `pwd`, ... but not `tokenCount` or `author`.
 */
export function isSecretName(name: string): boolean {
  return isSecretNormalized(normalizeName(name))
}

/** `isSecretName` for a name already normalized with `normalizeName`. */
export function isSecretNormalized(normalized: string): boolean {
  if (normalized === '') return false
  for (const c of CONTAINS) if (normalized.includes(c)) return true
  for (const s of SUFFIXES) if (normalized.endsWith(s)) return true
  return EXACT.includes(normalized)
}

// Query parameters add one name: `?key=` is how many services take an API key.
function isSecretParam(name: string): boolean {
  let decoded = name
  try {
    decoded = decodeURIComponent(name)
  } catch {
    // a malformed escape: judge the raw name
  }
  const normalized = normalizeName(decoded)
  return normalized === 'key' || isSecretNormalized(normalized)
}

const PARAM = /([?&#;])([^=&#;?]+)=([^&#;]*)/g

/**
 * Masks the secrets a URL can carry: the whole userinfo (`user:password@`, or a token used as
 * the user name) and the values of secret-named query or fragment parameters (`?token=`,
 * `?sig=`, `#access_token=`, `?key=`). Works on the text, so a malformed URL is masked too: with
 * any userinfo, everything up to the last `@` is masked. A clean URL comes back exactly as it was.
 * @example maskUrl('redis://app:hunter2@cache:6379/0?token=abc') // 'redis://****@cache:6379/0?token=****'
 */
export function maskUrl(value: string): string {
  let out = value
  // The authority follows the first "://", whatever precedes it (`syslog:tcp://u:p@host`).
  const sep = value.indexOf('://')
  if (sep > 0) {
    const start = sep + 3
    const rest = value.slice(start)
    let at = -1
    const end = rest.search(/[/?#\\]/)
    // The parser's split: the authority ends at the first / ? # (or \), the userinfo at its last @.
    const userinfo = rest.lastIndexOf('@', end < 0 ? rest.length : end) > 0
    if (userinfo || !URL.canParse(value)) {
      // A password holding @ / # ? fools any parser ("app:p@ss/w#rd@db" parses with host "ss"),
      // so the whole text up to the last @ is masked: too much at worst, never too little.
      at = rest.lastIndexOf('@')
    }
    if (at > 0) out = `${value.slice(0, start)}${MASK}${rest.slice(at)}`
  }
  return out.replace(PARAM, (whole, sep: string, name: string, v: string) =>
    v !== '' && isSecretParam(name) ? `${sep}${name}=${MASK}` : whole,
  )
}

// A scheme starts where no scheme character precedes it: without the lookbehind the engine
// retries from every letter of a long run ("://aaaa…"), which is quadratic in the text's length.
const URL_IN_TEXT = /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi

/** Masks every URL found in free text (an error message), as far as each reaches. */
export function maskUrlsIn(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, maskUrl) : text
}

/**
 * Masks one piece of text that may hold a secret without being one: a URL (see `maskUrl`),
 * or a `name=value` / `name: value` pair whose name is secret (`authorization: Bearer x`).
 */
export function maskText(value: string): string {
  if (value.includes('://')) return maskUrl(value)
  const pair = /^\s*([^=:\s]+)\s*[=:]/.exec(value)
  if (pair !== null && isSecretName(pair[1] as string)) return `${value.slice(0, pair[0].length)}${MASK}`
  return value
}

/**
 * A copy of a JSON-like value with every secret-named field masked and every string that holds
 * a URL masked, at any depth (cycles cut).
 */
export function maskJson(value: unknown, seen: Set<object> = new Set()): unknown {
  if (typeof value === 'string') return maskText(value)
  if (typeof value !== 'object' || value === null) return value
  if (seen.has(value)) return '[Circular]'
  seen.add(value)
  let out: unknown
  if (Array.isArray(value)) out = value.map((v) => maskJson(v, seen))
  else {
    const copy: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) copy[k] = isSecretName(k) && v != null ? MASK : maskJson(v, seen)
    out = copy
  }
  seen.delete(value)
  return out
}
