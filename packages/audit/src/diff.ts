import { canonicalJson } from './canonical.ts'
import type { AuditChange } from './record.ts'

/** Nested objects deeper than this are compared, and reported, as one value. */
const MAX_DEPTH = 16

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The fields that differ between two JSON values, by dotted path, in path order. Objects are
 * walked field by field; arrays and anything else change as a whole. A field present on one
 * side only has no `before` (created) or no `after` (removed).
 */
export function diffValues(before: Json | null, after: Json | null, mask: Mask = (_, v) => v): AuditChange[] {
  const changes: AuditChange[] = []
  walk(before ?? {}, after ?? {}, [], 0, changes, mask)
  return changes
}

/** What is kept of a changed value at a path (redaction); `(_, v) => v` keeps it. */
export type Mask = (path: readonly string[], value: unknown) => unknown

function walk(a: Json, b: Json, path: string[], depth: number, out: AuditChange[], mask: Mask): void {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  for (const key of keys) {
    const inA = Object.hasOwn(a, key)
    const inB = Object.hasOwn(b, key)
    const va = a[key]
    const vb = b[key]
    const at = [...path, key]
    if (inA && inB && isObject(va) && isObject(vb) && depth + 1 < MAX_DEPTH) {
      walk(va, vb, at, depth + 1, out, mask)
    } else if (!inA || !inB || canonicalJson(va) !== canonicalJson(vb)) {
      out.push({
        path: at.join('.'),
        ...(inA ? { before: mask(at, va) } : {}),
        ...(inB ? { after: mask(at, vb) } : {}),
      })
    }
  }
}
