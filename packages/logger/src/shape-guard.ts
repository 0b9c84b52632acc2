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
// Below this many keys in all, the walk costs what a guard does: such shapes are not remembered.
// The field walk asks for a guard only at a line's first nested object, and tells the cache only
// of lines that have one: a flat line never pays a lookup.
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
 * line already found clean; `learn(fields)` is told of a line with a nested object that the walk
 * found clean, and compiles a guard for a shape seen twice among sampled lines.
 */
export interface ShapeCache {
  proves(fields: Obj): boolean
  learn(fields: Obj): void
}

export function createShapeCache(secret: (key: string) => boolean): ShapeCache {
  const byFirstKey = new Map<string, Guard[]>()
  let count = 0
  let misses = 0
  let last: Guard | undefined
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
      // A call site logs the same shape line after line: the guard that proved the last line
      // is tried first (a guard of another shape fails at its first key), before the lookup.
      if (last !== undefined && last(fields)) return true
      const guards = byFirstKey.get(firstKey(fields))
      if (guards !== undefined) {
        for (const guard of guards) {
          if (guard !== last && guard(fields)) {
            last = guard
            return true
          }
        }
      }
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
 *
 * Each object is checked in three steps, in the order that keeps them cheap: a loop over its
 * keys that only compares them with the remembered list; a load of each remembered field by its
 * (remembered, so constant at each site) key, which lets the JIT check the object's hidden class
 * once and makes the prototype check after it a constant; then each value's type. Reading the
 * values inside the key loop, with their expected kinds in a table, cost twice as much.
 */
function compileGuard(shape: Shape): Guard {
  const noUrl = (v: string): string =>
    `else if (typeof ${v} === 'string' && ${v}.length >= SHORTEST_URL && ${v}.includes('//')) return false;\n`
  const keyLists: string[][] = []
  let vars = 0
  // A value in a slot whose remembered shape is `s` (null: a primitive). Only the top level
  // checks strings for a URL: what is nested goes through the masking stringify.
  function emitValue(s: Shape | null, v: string, top: boolean): string {
    const url = top ? noUrl(v) : ''
    if (s === null)
      return `if (typeof ${v} === 'object' ? ${v} !== null : typeof ${v} === 'function') return false;\n${url}`
    return `if (typeof ${v} === 'object') {\nif (${v} !== null) {\n${emit(s, v)}}\n}\nelse if (typeof ${v} === 'function') return false;\n${url}`
  }
  function emit(s: Shape, x: string): string {
    if (s.kind === 'array') {
      const i = `i${vars++}`
      const e = `e${vars++}`
      return `if (!isArray(${x})) return false;\nfor (let ${i} = 0; ${i} < ${x}.length; ${i}++) {\nconst ${e} = ${x}[${i}];\n${emitValue(s.element, e, false)}}\n`
    }
    const list = keyLists.push(s.keys) - 1
    const n = `n${vars++}`
    let code =
      `let ${n} = 0;\n` +
      `for (const key in ${x}) {\nif (key !== k${list}[${n}]) return false;\n${n}++;\n}\n` +
      `if (${n} !== ${s.keys.length}) return false;\n`
    const values = s.fields.map(() => `v${vars++}`)
    values.forEach((v, j) => {
      code += `const ${v} = ${x}[k${list}[${j}]];\n`
    })
    code += `if (getPrototype(${x}) !== OBJECT_PROTO) return false;\n`
    s.fields.forEach((field, j) => {
      code += emitValue(field, values[j] as string, x === 'x0')
    })
    return code
  }
  const body = emit(shape, 'x0')
  const lists = keyLists.map((_, i) => `const k${i} = K[${i}];\n`).join('')
  // The one place the logger compiles code: see the comment above for why and what goes in it.
  const factory = new Function(
    'K',
    'OBJECT_PROTO',
    'getPrototype',
    'isArray',
    'SHORTEST_URL',
    `${lists}return function guard(x0) {\n${body}return true;\n}`,
  ) as (keys: string[][], proto: unknown, get: typeof getPrototype, arr: typeof isArray, shortestUrl: number) => Guard
  return factory(keyLists, OBJECT_PROTO, getPrototype, isArray, SHORTEST_URL)
}
