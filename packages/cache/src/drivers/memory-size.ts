/**
 * A cheap, bounded estimate of a value's heap size in bytes (strings 2 bytes per unit, numbers 8,
 * objects walked up to 1,000 nodes), used for `maxSize` when values are kept by reference.
 */
export function estimateSize(value: unknown): number {
  let budget = 1000
  const walk = (v: unknown): number => {
    if (budget-- <= 0) return 0
    switch (typeof v) {
      case 'string':
        return 16 + v.length * 2
      case 'number':
      case 'bigint':
        return 8
      case 'boolean':
        return 4
      case 'object': {
        if (v === null) return 4
        if (ArrayBuffer.isView(v)) return 64 + v.byteLength
        if (v instanceof Date) return 48
        let total = 32
        if (v instanceof Map) for (const [k, x] of v) total += walk(k) + walk(x) + 16
        else if (v instanceof Set || Array.isArray(v)) for (const x of v) total += walk(x) + 8
        else for (const k of Object.keys(v)) total += k.length * 2 + 8 + walk((v as Record<string, unknown>)[k])
        return total
      }
      default:
        return 8
    }
  }
  return walk(value)
}
