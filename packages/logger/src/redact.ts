import { serializeError } from './serialize-error.ts'

type Obj = Record<string, unknown>

// pino serializes with JSON.stringify (its depth and breadth limits apply only to circular
// values), so the walk goes as deep as any real value; this bound only keeps the stack safe.
const MAX_DEPTH = 100
const CACHE_LIMIT = 10_000
const CIRCULAR = '[Circular]'
const NO_NAMES = (): boolean => false

/**
 * The key matcher: a key matches when it ends with one of the names, case-insensitively
 * (`accessToken`, `x-api-token`, `set-cookie`, `db_password`). The length and the last character
 * rule out most keys before any lookup; decisions are cached per key (bounded).
 */
function keyMatcher(names: readonly string[]): (key: string) => boolean {
  const wanted = names.map((n) => n.toLowerCase()).filter((n) => n !== '' && n !== 'none')
  if (wanted.length === 0) return NO_NAMES
  const lastChars = new Uint8Array(128)
  let exotic = false
  for (const w of wanted) {
    const c = w.charCodeAt(w.length - 1)
    if (c < 128) lastChars[c] = lastChars[w.toUpperCase().charCodeAt(w.length - 1)] = 1
    else exotic = true
  }
  const shortest = Math.min(...wanted.map((w) => w.length))
  const decisions = new Map<string, boolean>()
  return function matches(key: string): boolean {
    if (key.length < shortest) return false
    const c = key.charCodeAt(key.length - 1)
    if (c < 128 ? lastChars[c] === 0 : !exotic) return false
    let hit = decisions.get(key)
    if (hit === undefined) {
      const lower = key.toLowerCase()
      hit = wanted.some((w) => lower.endsWith(w))
      if (decisions.size >= CACHE_LIMIT) decisions.clear() // an unbounded vocabulary must not grow memory
      decisions.set(key, hit)
    }
    return hit
  }
}

/**
 * Builds the walk that runs on the fields of every line, before pino serializes them: errors
 * become plain objects (message, stack, code, details, cause chain) and keys named like a
 * secret are censored at any depth pino prints. It never mutates its input: a branch is copied
 * only when something inside it changes, so a line with nothing to change allocates nothing.
 *
 * Walked: plain objects, arrays and class instances without `toJSON` (their own enumerable
 * fields are what JSON.stringify writes). Values with `toJSON` (Date, Buffer, URL...) and typed
 * arrays keep their own JSON form. Errors are serialized at the top level (`err`, `error`, or any
 * field), where the serialized form is walked too.
 */
export function createFieldWalker(names: readonly string[], censor: unknown): (obj: Obj) => Obj {
  const matches = keyMatcher(names)
  const redacting = matches !== NO_NAMES
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
      if (typeof v !== 'object' || v === null) continue
      const nv = visitValue(v, depth + 1)
      if (nv !== v) (out ??= value.slice())[i] = nv
    }
    return out ?? value
  }

  function visitValue(value: object, depth: number): unknown {
    if (depth >= MAX_DEPTH) return value
    if (onPath(value, depth)) return CIRCULAR
    if (Array.isArray(value)) return visitArray(value, depth)
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto === Object.prototype || proto === null) return visitObject(value as Obj, depth)
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function' || ArrayBuffer.isView(value)) return value
    // Plain objects, and class instances (errors included), which serialize as their own
    // enumerable fields: a changed one is written as a plain copy, which serializes the same.
    return visitObject(value as Obj, depth)
  }

  function visitObject(obj: Obj, depth: number): Obj {
    let out: Obj | undefined
    path[depth] = obj
    for (const key in obj) {
      const v = obj[key]
      if (matches(key)) {
        if (v !== undefined) (out ??= { ...obj })[key] = censor
      } else if (typeof v === 'object' && v !== null) {
        const nv = visitValue(v, depth + 1)
        if (nv !== v) (out ??= { ...obj })[key] = nv
      }
    }
    return out ?? obj
  }

  /** The fields of one line: top-level errors always serialized, secrets censored. */
  return function walkFields(obj: Obj): Obj {
    let out: Obj | undefined
    for (const key in obj) {
      const v = obj[key]
      if (redacting && matches(key)) {
        if (v !== undefined) (out ??= { ...obj })[key] = censor
      } else if (typeof v === 'object' && v !== null) {
        let nv: unknown = v
        if (v instanceof Error) nv = serializeError(v)
        if (redacting) {
          path[0] = obj
          nv = visitValue(nv as object, 1)
        }
        if (nv !== v) (out ??= { ...obj })[key] = nv
      }
    }
    if (path.length !== 0) path.length = 0 // keeps no reference to a logged value
    return out ?? obj
  }
}
