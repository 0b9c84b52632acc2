const UPPER = /[A-Z]/

/**
 * Header names are case-insensitive, so the client keeps them in one case: lower. Returns the
 * same object when every name already is (the common case, no copy); otherwise a copy in which
 * a name written twice in different cases keeps the value written last.
 */
export function normalizeHeaders(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const name in headers) {
    if (UPPER.test(name)) return lowerCased(headers)
  }
  return headers
}

function lowerCased(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase()] = value
  }
  return out
}

/**
 * Applies per-call headers on top of `base`: names lower-cased, `undefined` removes. Returns
 * a new object.
 */
export function mergeHeaders(
  base: Readonly<Record<string, string>>,
  overrides: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = { ...base }
  for (const [name, value] of Object.entries(overrides)) {
    const lower = name.toLowerCase()
    if (value === undefined) delete out[lower]
    else out[lower] = value
  }
  return out
}

/** A copy of `headers` without the named ones (compared case-insensitively; `names` lower-case). */
export function withoutHeaders(
  headers: Readonly<Record<string, string>>,
  names: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) if (!names.has(name.toLowerCase())) out[name] = value
  return out
}
