import { HttpRequestError } from './errors.ts'

/** Query values: arrays repeat the key; `undefined` and `null` drop it. */
export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[]
/** Query parameters as an object or URLSearchParams. */
export type QueryParams = Readonly<Record<string, QueryValue>> | URLSearchParams

/** An origin and a path (with query) kept apart, as the dispatcher wants them. */
export interface Target {
  origin: string
  /** Path and query, starting with `/`. */
  path: string
}

const ABSOLUTE = /^https?:\/\//i

/** Splits a base URL into origin and path prefix (without a trailing slash). */
export function splitBase(baseUrl: string): Target {
  const u = new URL(baseUrl)
  if (u.search || u.hash) throw new TypeError(`baseUrl ${baseUrl} must not carry a query or fragment`)
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') }
}

/**
 * Resolves what a call names (`/users/:id`, `users`, or an absolute URL) against the base:
 * a relative path is appended to the base path (ky-style), never resolved away from it, so
 * `https://api/v1` + `/users` is `https://api/v1/users`.
 */
export function resolveTarget(
  input: string,
  base: Target | undefined,
  params: Readonly<Record<string, string | number>> | undefined,
  query: QueryParams | undefined,
): Target {
  let path: string
  let origin: string
  const withParams = params === undefined ? input : fillParams(input, params)
  if (ABSOLUTE.test(withParams)) {
    const u = new URL(withParams)
    origin = u.origin
    path = u.pathname + u.search
  } else {
    if (base === undefined) {
      throw new HttpRequestError(
        'HTTP_INVALID_REQUEST',
        `"${input}" is a relative URL but the client has no baseUrl. Pass an absolute URL, or set baseUrl (BEAVER_HTTP_BASE_URL).`,
        { details: { url: input } },
      )
    }
    origin = base.origin
    path = withParams.charCodeAt(0) === 47 ? base.path + withParams : `${base.path}/${withParams}`
  }
  if (query !== undefined) {
    const qs = encodeQuery(query)
    if (qs !== '') path += (path.includes('?') ? '&' : '?') + qs
  }
  return { origin, path }
}

const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g

/**
 * Fills `:name` segments with encoded values. A value can never change the path's structure:
 * `/`, `?`, `#` and `%` are encoded, and a segment that would read as `.`, `..` or nothing
 * (which servers and URL parsers collapse: `/users/../sessions` is `/sessions`) is refused.
 */
function fillParams(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(PARAM, (match, name: string, offset: number) => {
    // `https://host:8080` is a port, not a parameter.
    if (template[offset - 1] !== '/') return match
    const value = params[name]
    if (value === undefined) {
      throw new HttpRequestError(
        'HTTP_INVALID_REQUEST',
        `The route ${template} needs the parameter "${name}", which params does not have.`,
        { details: { route: template, missing: name } },
      )
    }
    const encoded = encodeURIComponent(String(value))
    // The rest of the segment after the parameter, up to the next `/`, `?` or `#`.
    const rest = /^[^/?#]*/.exec(template.slice(offset + match.length))![0]
    const segment = encoded + rest
    if (segment === '' || segment === '.' || segment === '..') {
      throw new HttpRequestError(
        'HTTP_INVALID_REQUEST',
        `The parameter "${name}" of ${template} is ${JSON.stringify(String(value))}, which would make the path segment "${segment}" and change the path (a dot segment or an empty one). Validate the value before the call.`,
        { details: { route: template, param: name } },
      )
    }
    return encoded
  })
}

function encodeQuery(query: QueryParams): string {
  if (query instanceof URLSearchParams) return query.toString()
  const out = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue
    if (Array.isArray(value)) for (const item of value as readonly unknown[]) out.append(key, String(item))
    else out.append(key, String(value))
  }
  return out.toString()
}

/** The URL for messages and events: no query string (tokens live there) and no credentials. */
export function safeUrl(origin: string, path: string): string {
  const q = path.indexOf('?')
  return origin + (q < 0 ? path : path.slice(0, q))
}
