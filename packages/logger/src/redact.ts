import { serializeError } from './serialize-error.ts'

type Obj = Record<string, unknown>

const MAX_DEPTH = 32
const CACHE_LIMIT = 10_000

/**
 * Builds the per-line walker that censors keys by name at any depth and serializes errors
 * found anywhere. It never mutates the caller's objects: a branch is copied only when something
 * inside it changes, so a line without secrets or errors costs one pass and no allocation.
 *
 * A key matches when, lowercased with `-` and `_` removed, it equals or ends with one of the
 * names (`accessToken`, `x-api-token`, `set-cookie`). Decisions are cached per key, since the
 * keys of a program's log lines come from a small vocabulary.
 */
export function createKeyRedactor(names: readonly string[], censor: unknown): (obj: Obj) => Obj {
  const wanted = names.map(normalize).filter(Boolean)
  const decisions = new Map<string, boolean>()

  function matches(key: string): boolean {
    const known = decisions.get(key)
    if (known !== undefined) return known
    const n = normalize(key)
    const hit = wanted.some((w) => n.endsWith(w))
    if (decisions.size >= CACHE_LIMIT) decisions.clear() // unbounded vocabularies must not grow memory
    decisions.set(key, hit)
    return hit
  }

  function visitValue(value: unknown, depth: number, parents: unknown[]): unknown {
    if (typeof value !== 'object' || value === null) return value
    if (value instanceof Error) return visitObject(serializeError(value) as Obj, depth, parents)
    if (depth >= MAX_DEPTH || parents.includes(value)) return value
    if (Array.isArray(value)) return visitArray(value, depth, parents)
    if (isPlainish(value)) return visitObject(value as Obj, depth, parents)
    return value
  }

  function visitArray(arr: unknown[], depth: number, parents: unknown[]): unknown[] {
    let out: unknown[] | undefined
    parents.push(arr)
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i]
      const nv = visitValue(v, depth + 1, parents)
      if (nv !== v) (out ??= arr.slice())[i] = nv
    }
    parents.pop()
    return out ?? arr
  }

  function visitObject(obj: Obj, depth: number, parents: unknown[]): Obj {
    let out: Obj | undefined
    parents.push(obj)
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue
      const v = obj[key]
      let nv = v
      if (wanted.length > 0 && matches(key)) nv = v === undefined ? v : censor
      else if (typeof v === 'object' && v !== null) nv = visitValue(v, depth + 1, parents)
      if (nv !== v) (out ??= { ...obj })[key] = nv
    }
    parents.pop()
    return out ?? obj
  }

  return function redactKeys(obj: Obj): Obj {
    return visitObject(obj, 0, [])
  }
}

function normalize(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '')
}

// Class instances other than plain objects (Date, Buffer, Map, URL...) keep their own toJSON.
function isPlainish(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
