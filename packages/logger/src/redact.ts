import { isSecretNormalized, maskUrl, maskUrlsIn, normalizeName, SECRET_NAME_RULES } from '@beaver-kit/config'
import { serializeError } from './serialize-error.ts'
import { createShapeCache } from './shape-guard.ts'
import { maskUrlText } from './url-text.ts'

type Obj = Record<string, unknown>

// pino serializes with JSON.stringify (its depth and breadth limits apply only to circular
// values), so the walk goes as deep as any real value; past this bound (which keeps the stack
// safe) a value is written as TRUNCATED, never unredacted.
const MAX_DEPTH = 100
const CIRCULAR = '[Circular]'
const TRUNCATED = '[Truncated]'
const NO_NAMES = (): boolean => false
/** The kit-wide rule of `@beaver-kit/config` (isSecretName), named in `BEAVER_LOG_REDACT_KEYS`. */
const KIT_RULE = 'default'
const SLOTS = 4096

const isLetter = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
const pairOf = (a: number, b: number): number => ((a & 31) << 5) | (b & 31)

/**
 * The key matcher. `default` stands for the kit-wide rule (config's `isSecretName`: a key whose
 * normalized form, lower case letters and digits only, contains `password`, `secret`, `apikey`,
 * `cookie`, `credential`, `privatekey`, `sessionid`... or ends with `token`, `pwd`, `jwt`...);
 * any other name matches as the end of the normalized key (`ssn` matches `user_ssn`).
 *
 * It runs on every key of every line, so it decides without work where it can: a key shorter
 * than every `contains` pattern can only match by its end, and its last two letters rule most
 * such keys out; other decisions are kept in a direct-mapped cache checked by identity
 * (property names are interned strings), so a known key costs no hashing.
 */
export function keyMatcher(names: readonly string[]): (key: string) => boolean {
  const kit = names.includes(KIT_RULE)
  const extra = names
    .filter((n) => n !== KIT_RULE && n !== 'none')
    .map(normalizeName)
    .filter((n) => n !== '')
  if (!kit && extra.length === 0) return NO_NAMES
  const suffixes = [...extra, ...(kit ? [...SECRET_NAME_RULES.suffixes, ...SECRET_NAME_RULES.exact] : [])]
  const decide = (key: string): boolean => {
    const normalized = normalizeName(key)
    return (kit && isSecretNormalized(normalized)) || extra.some((e) => normalized.endsWith(e))
  }
  // Below `short` characters only a suffix (or exact name) can match; two-letter ends known.
  const short = kit ? Math.min(...SECRET_NAME_RULES.contains.map((c) => c.length)) : Infinity
  const ends = new Uint8Array(32 * 32)
  let endsUsable = true
  for (const s of suffixes) {
    if (s.length < 2 || !isLetter(s.charCodeAt(s.length - 2)) || !isLetter(s.charCodeAt(s.length - 1))) {
      endsUsable = false
      break
    }
    ends[pairOf(s.charCodeAt(s.length - 2), s.charCodeAt(s.length - 1))] = 1
  }
  const shortest = Math.min(...suffixes.map((s) => s.length))
  const slotKeys: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined)
  const slotHits = new Uint8Array(SLOTS)
  return function matches(key: string): boolean {
    const n = key.length
    if (n < shortest && n < short) return false
    const a = key.charCodeAt(n - 2)
    const b = key.charCodeAt(n - 1)
    if (endsUsable && n < short && isLetter(a) && isLetter(b) && ends[pairOf(a, b)] === 0) return false
    const slot = (n * 0x9e5 + key.charCodeAt(0) * 0x1f3 + key.charCodeAt(n >> 1) * 0x3b + b) & (SLOTS - 1)
    if (slotKeys[slot] === key) return slotHits[slot] === 1
    const hit = decide(key)
    slotKeys[slot] = key
    slotHits[slot] = hit ? 1 : 0
    return hit
  }
}

/**
 * Whether censoring a secret-named field hides anything: a boolean (`secret: false` in a
 * described setting, `hasPassword: true`) carries no secret, and censoring it only hides
 * what the line says; undefined is not written at all.
 */
function hidesSomething(value: unknown): boolean {
  return value !== undefined && typeof value !== 'boolean'
}

/**
 * pino's serializer of the message (`serializers.msg`): it sees the message as it is written,
 * after interpolation (`log.warn('%s://%s failed', scheme, authority)`), a child's `msgPrefix`
 * and pino's fallback to an error's message, so each is masked once, where it enters the line.
 * Undefined when redaction is off (`BEAVER_LOG_REDACT_KEYS=none`), so such a logger pays nothing.
 */
export function createMessageMasker(
  names: readonly string[],
  walk: (obj: Obj) => Obj,
): ((msg: unknown) => unknown) | undefined {
  if (keyMatcher(names) === NO_NAMES) return undefined
  return function maskMessage(msg: unknown): unknown {
    if (typeof msg === 'string') return maskUrlText(msg)
    // A non-string message (`log.info({}, { url })`) is written as JSON: walked like a field.
    if (typeof msg === 'object' && msg !== null) return walk({ msg }).msg
    return msg
  }
}

/**
 * A copy of `obj` with the key `from` written as `to` (a key holding a URL with credentials, as a
 * map keyed by connection URL has), in the same place and with `value`.
 */
function renamed(obj: Obj, from: string, to: string, value: unknown): Obj {
  const out = Object.fromEntries(Object.entries(obj).map(([k, v]) => (k === from ? [to, value] : [k, v]))) as Obj
  out[to] = value // also when `from` was inherited, which the entries leave out
  return out
}

/** Options of `createFieldWalker()`. */
export interface FieldWalkerOptions {
  /**
   * Mask URL credentials in strings and keys below the top level. The logger passes false: pino
   * writes those through its stringify, which masks the JSON it builds (`maskUrlsInObjectJson`),
   * and lines are then proven clean by shape. Default true (`createRedactor()`: no JSON follows).
   */
  nestedStrings?: boolean
}

/**
 * Builds the walk that runs on the fields of every line, before pino serializes them: errors
 * become plain objects (message, stack, code, details, cause chain) and keys named like a
 * secret are censored at any depth. It never mutates its input: a branch is copied only when
 * something inside it changes, so a line with nothing to change allocates nothing.
 *
 * It redacts what will be serialized: plain objects, arrays and class instances (their own
 * enumerable fields, which is what JSON.stringify writes); for a value with `toJSON`, the
 * result of `toJSON()`, walked the same way; a `URL` (or a toJSON string holding one) with its
 * userinfo and secret-named query parameters masked, and the same for every string and key that
 * holds a URL (below the top level, only with `nestedStrings`). Dates and typed arrays (Buffer) keep their
 * own form: they carry no keys. Errors are serialized at the top level (`err`, `error`, or any
 * field), where the serialized form is walked too. Past MAX_DEPTH a value is TRUNCATED.
 */
export function createFieldWalker(
  names: readonly string[],
  censor: unknown,
  options: FieldWalkerOptions = {},
): (obj: Obj) => Obj {
  const matches = keyMatcher(names)
  const redacting = matches !== NO_NAMES
  const nestedStrings = options.nestedStrings !== false
  // A guard checks keys and top-level strings only: shapes are remembered when the serializer
  // masks what is nested.
  const shapes = redacting && !nestedStrings ? createShapeCache(matches) : undefined
  // The containers being walked, index = depth: a value already on it is a cycle, replaced by
  // "[Circular]" as pino's safe serializer would print it, so the copy holds no path back to an
  // uncensored original. The walk never re-enters itself, so one stack serves.
  const path: object[] = []

  function onPath(value: object, depth: number): boolean {
    for (let i = 0; i < depth; i++) if (path[i] === value) return true
    return false
  }

  function visitArray(value: unknown[], depth: number): unknown[] {
    let out: unknown[] | undefined
    path[depth] = value
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      let nv: unknown = v
      if ((typeof v === 'object' && v !== null) || typeof v === 'function') nv = visitValue(v, depth + 1)
      else if (nestedStrings && typeof v === 'string') nv = maskUrlText(v)
      if (nv !== v) (out ??= value.slice())[i] = nv
    }
    return out ?? value
  }

  function visitValue(value: object, depth: number): unknown {
    // A function is left out of JSON, unless it has a toJSON: then what that returns is written.
    if (typeof value === 'function') {
      return typeof (value as { toJSON?: unknown }).toJSON === 'function' ? visitJson(value, depth) : value
    }
    if (depth >= MAX_DEPTH) return TRUNCATED
    if (onPath(value, depth)) return CIRCULAR
    if (Array.isArray(value)) return visitArray(value, depth)
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto === Object.prototype || proto === null) return visitObject(value as Obj, depth)
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return visitJson(value, depth)
    if (ArrayBuffer.isView(value)) return value
    // Class instances (errors included) serialize as their own enumerable fields: a changed one
    // is written as a plain copy, which serializes the same.
    return visitObject(value as Obj, depth)
  }

  // What JSON.stringify would write for a value with toJSON, redacted. The result replaces the
  // value only when something in it changed, so a clean value is written by the serializer as
  // it would be anyway.
  function visitJson(value: object, depth: number): unknown {
    if (value instanceof Date || ArrayBuffer.isView(value)) return value
    if (value instanceof URL) {
      const href = value.href
      const masked = maskUrl(href)
      return masked === href ? value : masked
    }
    let json: unknown
    try {
      json = (value as { toJSON(key: string): unknown }).toJSON('')
    } catch {
      return value // the serializer meets the same error and handles it as it does
    }
    if (typeof json === 'string') {
      const masked = maskUrlsIn(json)
      return masked === json ? value : masked
    }
    if (typeof json !== 'object' || json === null) return value
    // The result is written as it is (JSON.stringify does not call its toJSON again).
    path[depth] = value
    const walked = Array.isArray(json) ? visitArray(json, depth + 1) : visitObject(json as Obj, depth + 1, true)
    return walked === json ? value : walked
  }

  // `json`: obj is what a toJSON returned, which JSON.stringify writes without calling its toJSON.
  function visitObject(obj: Obj, depth: number, json = false): unknown {
    let out: Obj | undefined
    path[depth] = obj
    for (const key in obj) {
      const v = obj[key]
      // JSON.stringify writes what a toJSON method returns, even on a plain object.
      if (key === 'toJSON' && !json && typeof v === 'function') return visitJson(obj, depth)
      const name = nestedStrings ? maskUrlText(key) : key
      if (name !== key) out = renamed(out ?? obj, key, name, v)
      if (matches(key)) {
        if (hidesSomething(v)) (out ??= { ...obj })[name] = censor
      } else if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
        const nv = visitValue(v, depth + 1)
        if (nv !== v) (out ??= { ...obj })[name] = nv
      } else if (nestedStrings && typeof v === 'string') {
        const nv = maskUrlText(v)
        if (nv !== v) (out ??= { ...obj })[name] = nv
      }
    }
    return out ?? obj
  }

  /** The fields of one line: top-level errors always serialized, secrets censored. */
  return function walkFields(obj: Obj): Obj {
    let out: Obj | undefined
    let nested = false
    for (const key in obj) {
      const v = obj[key]
      let name = key
      if (redacting) {
        name = maskUrlText(key)
        if (name !== key) out = renamed(out ?? obj, key, name, v)
      }
      if (redacting && matches(key)) {
        if (hidesSomething(v)) (out ??= { ...obj })[name] = censor
      } else if (redacting && typeof v === 'string') {
        const nv = maskUrlText(v)
        if (nv !== v) (out ??= { ...obj })[name] = nv
      } else if (typeof v === 'object' && v !== null) {
        // What is nested is what costs: at the first nested value, a remembered shape may prove
        // the whole line clean (its guard checks the keys walked so far too). A line without
        // one (a message, a small flat object: the commonest lines) never pays for the lookup.
        if (!nested && out === undefined && shapes !== undefined && shapes.proves(obj)) return obj
        nested = true
        let nv: unknown = v
        if (v instanceof Error) nv = serializeError(v)
        if (redacting) {
          path[0] = obj
          nv = visitValue(nv as object, 1)
        }
        if (nv !== v) (out ??= { ...obj })[name] = nv
      }
    }
    if (path.length !== 0) path.length = 0 // keeps no reference to a logged value
    if (out === undefined && shapes !== undefined && nested) shapes.learn(obj)
    return out ?? obj
  }
}
