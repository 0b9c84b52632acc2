// Verification of V4 signed URLs as Google documents them
// (https://cloud.google.com/storage/docs/authentication/signatures): the canonical request is
// method, path, the query without X-Goog-Signature sorted and RFC 3986 encoded, the signed
// headers `name:value\n` sorted, the signed header names, and UNSIGNED-PAYLOAD; the string to sign
// is `GOOG4-RSA-SHA256\n<X-Goog-Date>\n<scope>\n<hex sha256 of the canonical request>`, signed
// with the service account's RSA key (hex in X-Goog-Signature).
import { createHash, createVerify, type KeyObject } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { GcsApiError } from './objects.ts'

const strict = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** X-Goog-Date (`20261206T031500Z`) as a time. */
function parseDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (!m) return Number.NaN
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

function refuse(reason: string, message: string): never {
  throw new GcsApiError(reason === 'ExpiredToken' ? 400 : 403, reason, message)
}

/**
 * Checks a V4-signed request against the public keys of the service accounts the server
 * trusts (by client e-mail). The host header is compared without its port: the Node client
 * signs the endpoint's hostname only.
 */
export function verifySignedRequest(
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: IncomingHttpHeaders,
  keys: ReadonlyMap<string, KeyObject>,
  now = Date.now(),
): void {
  const params = new URLSearchParams(rawQuery)
  if (params.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256')
    refuse('SignatureDoesNotMatch', 'Only GOOG4-RSA-SHA256 signatures are accepted.')
  const credential = params.get('X-Goog-Credential') ?? ''
  const slash = credential.indexOf('/')
  const email = credential.slice(0, slash)
  const scope = credential.slice(slash + 1)
  const key = keys.get(email)
  if (!key) refuse('AccessDenied', `Unknown service account: ${email}`)
  const date = params.get('X-Goog-Date') ?? ''
  const start = parseDate(date)
  const expires = Number(params.get('X-Goog-Expires'))
  if (Number.isNaN(start) || !Number.isInteger(expires) || expires < 1 || expires > 604_800)
    refuse('AuthenticationRequired', 'X-Goog-Date or X-Goog-Expires is missing or invalid.')
  if (!scope.startsWith(`${date.slice(0, 8)}/`) || !scope.endsWith('/storage/goog4_request'))
    refuse('SignatureDoesNotMatch', 'The credential scope does not match X-Goog-Date.')
  if (now > start + expires * 1000) refuse('ExpiredToken', 'Invalid argument: the signed URL expired.')
  if (now < start - 60_000) refuse('AccessDenied', 'The signed URL is not valid yet.')
  const signature = params.get('X-Goog-Signature') ?? ''
  const signedHeaders = (params.get('X-Goog-SignedHeaders') ?? '').split(';').filter(Boolean)
  if (!signedHeaders.includes('host')) refuse('SignatureDoesNotMatch', 'The host header must be signed.')
  const canonicalQuery = [...params]
    .filter(([k]) => k !== 'X-Goog-Signature')
    .map(([k, v]) => [strict(k), strict(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const raw = headers[name]
      let value = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().replace(/\s{2,}/g, ' ')
      if (name === 'host') value = value.replace(/:\d+$/, '')
      return `${name}:${value}\n`
    })
    .join('')
  const canonicalRequest = [
    method,
    rawPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n')
  const toSign = ['GOOG4-RSA-SHA256', date, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  )
  const valid =
    /^[0-9a-f]+$/i.test(signature) &&
    createVerify('RSA-SHA256').update(toSign).verify(key, Buffer.from(signature, 'hex'))
  if (!valid)
    refuse('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.')
}

/** An XML API error body (signed URLs are served by the XML API). */
export function xmlError(err: GcsApiError): string {
  const escape = (s: string): string => s.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`)
  return `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${err.reason}</Code><Message>${escape(err.message)}</Message></Error>`
}
