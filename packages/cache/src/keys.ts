import { CacheError } from './errors.ts'

// A namespace is a path of segments joined by ":" (a:b is b nested in a). Segments are never
// empty and hold no ":", whitespace or control characters, so every driver can tell where a
// namespace ends and its key begins (Redis `a:b::key`), and the internal namespaces of the
// tiered driver (a segment starting with a control character) can never be a user's.
const SEGMENT = /^[^\s:\p{Cc}]+$/u

/** The full namespace of `name` nested in `parent`, or a CACHE_OPTIONS_INVALID naming what is wrong. */
export function nestedNamespace(parent: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0 || !name.split(':').every((s) => SEGMENT.test(s))) {
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `A namespace is one or more segments joined by ":" (a:b is b nested in a), each non-empty and without ":" inside, spaces or control characters; got ${JSON.stringify(name)}.`,
      { details: { namespace: typeof name === 'string' ? name : typeof name } },
    )
  }
  return parent === '' ? name : `${parent}:${name}`
}

/** A CACHE_KEY_INVALID for a key that is not a non-empty string of at most `max` characters (the key itself is never echoed). */
export function keyError(key: unknown, max: number): CacheError {
  const shown = typeof key === 'string' ? `a string of length ${key.length}` : key === null ? 'null' : typeof key
  return new CacheError(
    'CACHE_KEY_INVALID',
    `A cache key must be a non-empty string of at most ${max} characters, got ${shown}; hash long keys, or raise BEAVER_CACHE_MAX_KEY_LENGTH.`,
    { details: { type: typeof key, length: typeof key === 'string' ? key.length : undefined, max } },
  )
}
