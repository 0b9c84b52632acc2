/** An error as it appears in a log line. */
export interface SerializedError {
  type: string
  message: string
  stack?: string
  code?: unknown
  details?: unknown
  cause?: unknown
  errors?: unknown[]
  [key: string]: unknown
}

const MAX_CAUSE_DEPTH = 10
const SKIP = new Set(['name', 'message', 'stack', 'cause', 'errors', 'code', 'details'])

/**
 * Serializes an error with its message, stack, `code`, `details`, other own fields, the whole
 * `cause` chain and `AggregateError` members. Cycles and very deep chains are cut, never followed.
 */
export function serializeError(err: Error, seen: Set<unknown> = new Set(), depth = 0): SerializedError {
  seen.add(err)
  const out: SerializedError = { type: err.name || err.constructor?.name || 'Error', message: err.message }
  if (err.stack !== undefined) out.stack = err.stack
  const fields = err as unknown as Record<string, unknown>
  if (fields.code !== undefined) out.code = fields.code
  if (fields.details !== undefined) out.details = fields.details
  for (const key of Object.keys(err)) {
    if (!SKIP.has(key) && typeof fields[key] !== 'function') out[key] = fields[key]
  }
  if (err.cause !== undefined) out.cause = serializeNested(err.cause, seen, depth)
  if (err instanceof AggregateError && Array.isArray(err.errors)) {
    out.errors = err.errors.map((e: unknown) => serializeNested(e, seen, depth))
  }
  return out
}

function serializeNested(value: unknown, seen: Set<unknown>, depth: number): unknown {
  if (!(value instanceof Error)) return value
  if (seen.has(value)) return '[Circular]'
  if (depth >= MAX_CAUSE_DEPTH) return `[${value.name}: ${value.message}] (cause chain cut at ${MAX_CAUSE_DEPTH})`
  return serializeError(value, seen, depth + 1)
}
