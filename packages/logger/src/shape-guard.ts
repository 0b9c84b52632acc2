import { SHORTEST_URL } from './url-text.ts'

// Clean shapes, remembered: most log calls pass objects built the same way every time (one call
// site, one object literal), and once such an object has been walked and found to hold no
// secret-named key, the next one needs only a proof that it is built exactly the same way. A
// compiled guard gives that proof at a fraction of a walk's cost: it compares every key of every
// nested object with the remembered list (so a key added later, or an extra secret key behind
// the same first keys, fails it), checks that every object is still a plain one (no class with
// a toJSON of its own), that no field that held a primitive now holds an object, that no
// function (which JSON writes through its toJSON, if it has one) has appeared, and that no
// top-level string holds `//` (a URL, whose credentials the walk masks; `//` rather than `://`
// because V8 scans for two characters the way memchr does). Nested strings are not checked: the
// logger masks URLs in the JSON pino's stringify writes for object fields (json-urls.ts), which
// is cheaper than ~15 ns per string here. Whatever fails a guard goes through the full walk; a
// guard never censors or masks anything itself.

type Obj = Record<string, unknown>

/** A remembered clean shape: a plain object's keys in order, or an array's element shape. */
type Shape = { kind: 'object'; keys: string[]; fields: Array<Shape | null> } | { kind: 'array'; element: Shape | null }

/** Proves that a value is built exactly like a remembered clean one. */
type Guard = (value: Obj) => boolean

// Bounds on what an attacker who controls logged keys can make the cache hold or compile.
const MAX_GUARDS = 64
const MAX_PER_FIRST_KEY = 4
const MAX_NODES = 256
// Below this many keys in all, the walk costs what a guard does (and a string message's empty
// fields would pay a lookup on every line): such shapes are not remembered.
const MIN_KEYS = 8
const MAX_DEPTH = 12
const MAX_KEY_LENGTH = 128
const PENDING = 16
// A shape is described on every SAMPLE-th line that missed every guard, so traffic whose shapes
// never repeat (objects used as maps) pays a fraction of a description per line.
const SAMPLE = 8

const OBJECT_PROTO: unknown = Object.prototype
const getPrototype = Object.getPrototypeOf
const isArray = Array.isArray

/**
 * The guards of one logger. `proves(fields)` is true when the fields are built exactly like a
 * line already found clean; `learn(fields)` is told of a line the walk found clean, and compiles
 * a guard for a shape seen twice among sampled lines.
 */
export interface ShapeCache {
  proves(fields: Obj): boolean
  learn(fields: Obj): void
}

/**
 * Whether a clean line could ever get a guard, from what the walk saw of its top level: a flat
 * line with fewer than MIN_KEYS keys never does, so the walk need not tell the cache about it
 * (a small flat object, the commonest line, then pays no sampling and no description).
 */
export function mayRemember(topLevelKeys: number, nested: boolean): boolean {
  return nested || topLevelKeys >= MIN_KEYS
}

export function createShapeCache(secret: (key: string) => boolean): ShapeCache {
  const byFirstKey = new Map<string, Guard[]>()
  let count = 0
  let misses = 0
  const pending: Shape[] = []

  function describe(value: object, depth: number, budget: { nodes: number; keys: number }): Shape | undefined {
    if (depth > MAX_DEPTH || --budget.nodes < 0) return undefined
    if (isArray(value)) {
      let element: Shape | null = null
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i]
        if (typeof v === 'function') return undefined
        if (typeof v !== 'object' || v === null) continue
        const s = describe(v, depth + 1, budget)
        if (s === undefined || (element !== null && !sameShape(element, s))) return undefined
        element = s
      }
      return { kind: 'array', element }
    }
    if (getPrototype(value) !== OBJECT_PROTO) return undefined
    const keys: string[] = []
    const fields: Array<Shape | null> = []
    for (const key in value) {
      // A secret-named key (kept when its value is a boolean) or a toJSON method: always walked.
      if (key.length > MAX_KEY_LENGTH || key === 'toJSON' || secret(key)) return undefined
      const v = (value as Obj)[key]
      if (typeof v === 'function') return undefined
      let field: Shape | null = null
      if (typeof v === 'object' && v !== null) {
        const s = describe(v, depth + 1, budget)
        if (s === undefined) return undefined
        field = s
      }
      keys.push(key)
      fields.push(field)
      budget.keys++
    }
    return { kind: 'object', keys, fields }
  }

  return {
    proves(fields) {
      if (count === 0) return false
      const guards = byFirstKey.get(firstKey(fields))
      if (guards !== undefined) for (const guard of guards) if (guard(fields)) return true
      return false
    },
    learn(fields) {
      if (count >= MAX_GUARDS || ++misses % SAMPLE !== 0) return
      const budget = { nodes: MAX_NODES, keys: 0 }
      const shape = describe(fields, 0, budget)
      if (shape === undefined || shape.kind !== 'object' || budget.keys < MIN_KEYS) return
      const seen = pending.findIndex((p) => sameShape(p, shape))
      if (seen === -1) {
        if (pending.push(shape) > PENDING) pending.shift()
        return
      }
      pending.splice(seen, 1)
      const first = shape.keys[0] ?? ''
      const guards = byFirstKey.get(first) ?? []
      if (guards.length >= MAX_PER_FIRST_KEY) return
      guards.push(compileGuard(shape))
      byFirstKey.set(first, guards)
      count++
    },
  }
}

function firstKey(value: Obj): string {
  for (const key in value) return key
  return ''
}

function sameShape(a: Shape, b: Shape): boolean {
  if (a.kind === 'array' || b.kind === 'array') {
    if (a.kind !== 'array' || b.kind !== 'array') return false
    return a.element === null || b.element === null ? a.element === b.element : sameShape(a.element, b.element)
  }
  if (a.keys.length !== b.keys.length) return false
  for (let i = 0; i < a.keys.length; i++) {
    const fa = a.fields[i] as Shape | null
    const fb = b.fields[i] as Shape | null
    if (a.keys[i] !== b.keys[i]) return false
    if (fa === null || fb === null ? fa !== fb : !sameShape(fa, fb)) return false
  }
  return true
}

/**
 * Compiles a shape into straight-line code, so that each guard is its own function with
 * monomorphic property access: an interpreted check of the same shape costs as much as the walk
 * it replaces. The generated text holds only structure (variable names, indexes and counts);
 * the keys, which come from logged data, stay in an array the code reads, never in its text.
 */
function compileGuard(shape: Shape): Guard {
  const noUrl = (v: string): string =>
    `if (typeof ${v} === 'string' && ${v}.length >= SHORTEST_URL && ${v}.includes('//')) return false;\n`
  const keyLists: string[][] = []
  const objectAt: Uint8Array[] = []
  let vars = 0
  function emit(s: Shape, x: string): string {
    if (s.kind === 'array') {
      const i = `i${vars++}`
      const e = `e${vars++}`
      const each =
        s.element === null
          ? `if (typeof ${e} === 'object' ? ${e} !== null : typeof ${e} === 'function') return false;\n`
          : `if (typeof ${e} === 'function') return false;\nif (typeof ${e} === 'object' && ${e} !== null) {\n${emit(s.element, e)}}\n`
      return `if (!isArray(${x})) return false;\nfor (let ${i} = 0; ${i} < ${x}.length; ${i}++) {\nconst ${e} = ${x}[${i}];\n${each}}\n`
    }
    const list = keyLists.push(s.keys) - 1
    objectAt.push(Uint8Array.from(s.fields, (f) => (f === null ? 0 : 1)))
    const n = `n${vars++}`
    let code =
      `if (getPrototype(${x}) !== OBJECT_PROTO) return false;\n` +
      `let ${n} = 0;\n` +
      `for (const key in ${x}) {\n` +
      `if (key !== k${list}[${n}]) return false;\n` +
      `const v = ${x}[key];\n` +
      (x === 'x0' ? noUrl('v') : '') +
      `if (typeof v === 'object' ? v !== null && o${list}[${n}] === 0 : typeof v === 'function') return false;\n` +
      `${n}++;\n}\n` +
      `if (${n} !== ${s.keys.length}) return false;\n`
    s.fields.forEach((field, j) => {
      if (field === null) return
      const v = `v${vars++}`
      code += `const ${v} = ${x}[k${list}[${j}]];\nif (typeof ${v} === 'object' && ${v} !== null) {\n${emit(field, v)}}\n`
    })
    return code
  }
  const body = emit(shape, 'x0')
  const lists = keyLists.map((_, i) => `const k${i} = K[${i}], o${i} = O[${i}];\n`).join('')
  // The one place the logger compiles code: see the comment above for why and what goes in it.
  const factory = new Function(
    'K',
    'O',
    'OBJECT_PROTO',
    'getPrototype',
    'isArray',
    'SHORTEST_URL',
    `${lists}return function guard(x0) {\n${body}return true;\n}`,
  ) as (
    keys: string[][],
    objectAt: Uint8Array[],
    proto: unknown,
    get: typeof getPrototype,
    arr: typeof isArray,
    shortestUrl: number,
  ) => Guard
  return factory(keyLists, objectAt, OBJECT_PROTO, getPrototype, isArray, SHORTEST_URL)
}
