import { LoggerError } from './errors.ts'

type Obj = Record<string, unknown>

interface PathNode {
  /** Keys censored at this level. */
  leaves: Set<string>
  censorAll: boolean
  children: Map<string, PathNode>
  wildcard: PathNode | undefined
}

const SEGMENT = /[^.[\]]+|\[([^[\]]*?)\]/g

/** Splits `a.b["c-d"][*].e` into `['a', 'b', 'c-d', '*', 'e']` (pino's path syntax). */
export function parsePath(path: string): string[] {
  const segments: string[] = []
  SEGMENT.lastIndex = 0
  let consumed = 0
  for (let m = SEGMENT.exec(path); m !== null; m = SEGMENT.exec(path)) {
    const raw = m[1] !== undefined ? m[1].replace(/^(["'`])(.*)\1$/, '$2') : m[0]
    segments.push(raw)
    consumed += m[0].length
  }
  const dots = (path.match(/\./g) ?? []).length
  if (segments.length === 0 || segments.includes('') || consumed + dots !== path.length || /\.\.|^\.|\.$/.test(path)) {
    throw new LoggerError(
      'LOG_REDACT_INVALID',
      `Redaction path "${path}" is not valid; write it like user.password, headers["x-api-key"] or items[*].token`,
      {
        details: { path },
      },
    )
  }
  return segments
}

function node(): PathNode {
  return { leaves: new Set(), censorAll: false, children: new Map(), wildcard: undefined }
}

/**
 * Compiles redaction paths into a function that censors them with copy-on-write: only the
 * objects on a matched path are copied, so the cost is a few property reads per path and the
 * caller's objects are never touched. Undefined when there are no paths.
 */
export function createPathRedactor(paths: readonly string[], censor: unknown): ((obj: Obj) => Obj) | undefined {
  if (paths.length === 0) return undefined
  const root = node()
  for (const path of paths) {
    let at = root
    const segments = parsePath(path)
    segments.forEach((seg, i) => {
      const last = i === segments.length - 1
      if (seg === '*') {
        if (last) at.censorAll = true
        else at = at.wildcard ??= node()
      } else if (last) {
        at.leaves.add(seg)
      } else {
        let next = at.children.get(seg)
        if (next === undefined) at.children.set(seg, (next = node()))
        at = next
      }
    })
  }

  function visit(value: unknown, at: PathNode): unknown {
    if (typeof value !== 'object' || value === null) return value
    if (Array.isArray(value)) return visitArray(value, at)
    const obj = value as Obj
    let out: Obj | undefined
    const set = (key: string, v: unknown): void => {
      ;(out ??= { ...obj })[key] = v
    }
    if (at.censorAll) {
      for (const key of Object.keys(obj)) if (obj[key] !== undefined) set(key, censor)
      return out ?? obj
    }
    for (const key of at.leaves) if (Object.hasOwn(obj, key) && obj[key] !== undefined) set(key, censor)
    for (const [key, child] of at.children) {
      if (at.leaves.has(key) || !Object.hasOwn(obj, key)) continue
      const v = obj[key]
      const nv = visit(v, child)
      if (nv !== v) set(key, nv)
    }
    if (at.wildcard !== undefined) {
      for (const key of Object.keys(obj)) {
        if (at.leaves.has(key)) continue
        const v = (out ?? obj)[key]
        const nv = visit(v, at.wildcard)
        if (nv !== v) set(key, nv)
      }
    }
    return out ?? obj
  }

  function visitArray(arr: unknown[], at: PathNode): unknown[] {
    let out: unknown[] | undefined
    for (let i = 0; i < arr.length; i++) {
      const key = String(i)
      const v = arr[i]
      let nv: unknown = v
      if (at.censorAll || at.leaves.has(key)) nv = censor
      else {
        const child = at.children.get(key)
        if (child !== undefined) nv = visit(nv, child)
        if (at.wildcard !== undefined) nv = visit(nv, at.wildcard)
      }
      if (nv !== v) (out ??= arr.slice())[i] = nv
    }
    return out ?? arr
  }

  return function redactPaths(obj: Obj): Obj {
    return visit(obj, root) as Obj
  }
}
