// The checks S3 makes on a browser-based upload with POST and Signature Version 4, written from
// AWS's published rules (S3 API reference: "POST Policy", "Browser-Based Upload using HTTP POST
// (Using AWS Signature Version 4)", "Calculating a Signature", "POST Object"):
// - the policy is a base64 UTF-8 JSON document with `expiration` (ISO 8601, UTC) and `conditions`;
// - the signature is hex(HMAC-SHA256(signing key, the base64 policy as sent)), the signing key
//   being the SigV4 chain HMAC("AWS4" + secret, date) → region → "s3" → "aws4_request" over the
//   scope of `x-amz-credential` (`<key id>/<yyyymmdd>/<region>/s3/aws4_request`);
// - conditions: `{ "field": "value" }` and `["eq", "$field", "value"]` (exact), `["starts-with",
//   "$field", "prefix"]` ("" matches anything; for Content-Type each comma-separated value must
//   start with the prefix), `["content-length-range", min, max]` on the file's size;
// - `bucket`, `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `success_action_status` and
//   the other `x-amz-*` fields (not `x-amz-meta-*`) take exact matching only;
// - every form field except `x-amz-signature`, `file`, `policy` and names starting `x-ignore-`
//   must be named by at least one condition; `${filename}` in the key is expanded first;
// - form field names are case-insensitive; values are compared case-sensitively.
// Error codes and messages are those S3 answers with (AccessDenied "Invalid according to Policy:
// ...", SignatureDoesNotMatch, InvalidAccessKeyId, EntityTooLarge/EntityTooSmall,
// InvalidPolicyDocument, InvalidArgument).
import { createHmac, timingSafeEqual } from 'node:crypto'

/** A refusal: the HTTP status and the S3 error code and message of the answer. */
export class PostRefused extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

const EXACT_ONLY = new Set(['bucket', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'success_action_status'])
const NOT_COVERED = new Set(['x-amz-signature', 'file', 'policy'])

/** Only exact matching for bucket, the signing fields, success_action_status and x-amz-* other than metadata. */
function exactOnly(field: string): boolean {
  return EXACT_ONLY.has(field) || (field.startsWith('x-amz-') && !field.startsWith('x-amz-meta-'))
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest()

/** The SigV4 signing key of a scope. */
export function signingKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request')
}

/** The POST signature of a base64 policy: what `x-amz-signature` must be. */
export function postSignature(secret: string, date: string, region: string, policyBase64: string): string {
  return hmac(signingKey(secret, date, region), policyBase64).toString('hex')
}

type Condition =
  | { kind: 'eq'; field: string; value: string; text: string }
  | { kind: 'starts-with'; field: string; value: string; text: string }
  | { kind: 'content-length-range'; min: number; max: number; text: string }

const invalidPolicy = (why: string): PostRefused =>
  new PostRefused(400, 'InvalidPolicyDocument', `Invalid Policy: ${why}`)

function fieldOf(name: unknown, text: string): string {
  if (typeof name !== 'string' || !name.startsWith('$')) throw invalidPolicy(`Invalid condition field: ${text}`)
  return name.slice(1).toLowerCase()
}

function parseCondition(raw: unknown): Condition[] {
  const text = JSON.stringify(raw)
  if (Array.isArray(raw)) {
    const [op, a, b] = raw as unknown[]
    if (raw.length !== 3) throw invalidPolicy(`Invalid condition: ${text}`)
    const operator = typeof op === 'string' ? op.toLowerCase() : op
    if (operator === 'content-length-range') {
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || (a as number) < 0 || (a as number) > (b as number))
        throw invalidPolicy(`Invalid content-length-range: ${text}`)
      return [{ kind: 'content-length-range', min: a as number, max: b as number, text }]
    }
    if (operator !== 'eq' && operator !== 'starts-with') throw invalidPolicy(`Invalid condition operator: ${text}`)
    const field = fieldOf(a, text)
    if (typeof b !== 'string') throw invalidPolicy(`Invalid condition value: ${text}`)
    if (operator === 'starts-with' && exactOnly(field))
      throw invalidPolicy(`${field} supports exact matching only: ${text}`)
    return [{ kind: operator, field, value: b, text }]
  }
  if (raw && typeof raw === 'object') {
    const entries = Object.entries(raw as Record<string, unknown>)
    if (entries.length === 0) throw invalidPolicy(`Invalid condition: ${text}`)
    return entries.map(([name, value]) => {
      if (typeof value !== 'string') throw invalidPolicy(`Invalid condition value: ${text}`)
      return { kind: 'eq' as const, field: name.toLowerCase(), value, text: JSON.stringify(['eq', `$${name}`, value]) }
    })
  }
  throw invalidPolicy(`Invalid condition: ${text}`)
}

/** Decodes and validates the shape of a base64 policy: its expiration and its conditions. */
export function parsePolicy(policyBase64: string): { expiration: Date; conditions: Condition[] } {
  let document: unknown
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(policyBase64)) throw new Error('not base64')
    document = JSON.parse(Buffer.from(policyBase64, 'base64').toString('utf8'))
  } catch {
    throw invalidPolicy('Unable to decode the policy as base64 JSON.')
  }
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw invalidPolicy('The policy is not a JSON object.')
  const { expiration, conditions } = document as { expiration?: unknown; conditions?: unknown }
  // ISO 8601 in UTC: 2013-08-01T12:00:00.000Z (fractional seconds optional).
  if (typeof expiration !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiration))
    throw invalidPolicy('Policy missing expiration, or it is not an ISO 8601 GMT date.')
  const at = new Date(expiration)
  if (Number.isNaN(at.getTime())) throw invalidPolicy(`Invalid expiration: ${expiration}`)
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.')
  return { expiration: at, conditions: conditions.flatMap(parseCondition) }
}

/** What a POST form carries once parsed: its fields (names lower-cased, before the file) and the file. */
export interface PostForm {
  fields: ReadonlyMap<string, string>
  file: { bytes: Buffer; filename: string }
}

export interface PostCheckContext {
  bucket: string
  region: string
  /** Secret access key of a key id; undefined for an unknown key. */
  secretOf(accessKeyId: string): string | undefined
  now: Date
}

const refuseByPolicy = (why: string): PostRefused =>
  new PostRefused(403, 'AccessDenied', `Invalid according to Policy: ${why}`)

function required(fields: ReadonlyMap<string, string>, name: string): string {
  const value = fields.get(name)
  if (value === undefined)
    throw new PostRefused(400, 'InvalidArgument', `Bucket POST must contain a field named '${name}'.`)
  return value
}

/**
 * Checks a POST form as S3 does, in its order: signing fields, signature, policy document,
 * expiration, conditions, coverage of every field, size. Returns the fields as conditions saw
 * them (with `${filename}` expanded in the key); throws a PostRefused otherwise.
 */
export function checkPost(form: PostForm, context: PostCheckContext): Map<string, string> {
  const { fields, file } = form
  const policyBase64 = fields.get('policy')
  // A form without a policy is an anonymous upload: only a publicly writable bucket takes it.
  if (policyBase64 === undefined) throw new PostRefused(403, 'AccessDenied', 'Access Denied')
  const key = required(fields, 'key')
  const algorithm = required(fields, 'x-amz-algorithm')
  if (algorithm !== 'AWS4-HMAC-SHA256')
    throw new PostRefused(
      400,
      'InvalidArgument',
      `Unsupported x-amz-algorithm "${algorithm}"; expected AWS4-HMAC-SHA256.`,
    )
  const credential = required(fields, 'x-amz-credential')
  const amzDate = required(fields, 'x-amz-date')
  const signature = required(fields, 'x-amz-signature')
  const scope = /^([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request$/.exec(credential)
  if (!scope) throw new PostRefused(400, 'InvalidArgument', `Invalid x-amz-credential "${credential}".`)
  const [, accessKeyId, date, region] = scope as unknown as [string, string, string, string]
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date)
    throw new PostRefused(
      400,
      'InvalidArgument',
      `x-amz-date "${amzDate}" does not match the credential's date ${date}.`,
    )
  if (region !== context.region)
    throw new PostRefused(
      400,
      'AuthorizationQueryParametersError',
      `The region '${region}' is wrong; expecting '${context.region}'.`,
    )
  const secret = context.secretOf(accessKeyId)
  if (secret === undefined)
    throw new PostRefused(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    )
  const expected = Buffer.from(postSignature(secret, date, region, policyBase64), 'hex')
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0)
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new PostRefused(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    )
  const policy = parsePolicy(policyBase64)
  if (context.now.getTime() > policy.expiration.getTime()) throw refuseByPolicy('Policy expired.')
  // Variables are expanded before matching: conditions see the key with the file name in it.
  const seen = new Map(fields)
  seen.set('key', key.replaceAll('${filename}', file.filename))
  // The bucket conditions match is the one posted to; a form naming another one is refused.
  if (seen.has('bucket') && seen.get('bucket') !== context.bucket)
    throw new PostRefused(
      400,
      'InvalidArgument',
      `The form's bucket field names another bucket than ${context.bucket}.`,
    )
  seen.set('bucket', context.bucket)
  const covered = new Set<string>()
  for (const condition of policy.conditions) {
    if (condition.kind === 'content-length-range') {
      if (file.bytes.length > condition.max)
        throw new PostRefused(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size')
      if (file.bytes.length < condition.min)
        throw new PostRefused(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size')
      continue
    }
    covered.add(condition.field)
    const value = seen.get(condition.field)
    if (value === undefined) throw refuseByPolicy(`Policy Condition failed: ${condition.text}`)
    const ok =
      condition.kind === 'eq'
        ? value === condition.value
        : condition.field === 'content-type'
          ? value.split(',').every((one) => one.trim().startsWith(condition.value))
          : value.startsWith(condition.value)
    if (!ok) throw refuseByPolicy(`Policy Condition failed: ${condition.text}`)
  }
  for (const name of fields.keys())
    if (!NOT_COVERED.has(name) && !name.startsWith('x-ignore-') && !covered.has(name))
      throw refuseByPolicy(`Extra input fields: ${name}`)
  return seen
}
