import { isNetworkErrorCode } from '@beaver-kit/core'

/** The settings every AWS SDK client of the kit reads (BEAVER_MAIL_SES_*, BEAVER_SMS_SNS_*). */
export interface AwsClientSettings {
  region?: string | undefined
  endpoint?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
}

/**
 * The constructor options of an AWS SDK v3 client: region and endpoint when set, static
 * credentials only when both halves are given (otherwise the SDK's credential chain), and the
 * sender's attempt count for the SDK's own retry of throttling and 5xx.
 */
export function awsClientConfig(settings: AwsClientSettings, maxAttempts: number): Record<string, unknown> {
  const { region, endpoint, accessKeyId, secretAccessKey } = settings
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    maxAttempts,
  }
}

const AUTH = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'AuthorizationError',
  'AccessDenied',
  'AccessDeniedException',
  'ExpiredToken',
  'ExpiredTokenException',
  'CredentialsProviderError',
])
const TEMPORARY = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'LimitExceededException',
  'KMSThrottlingException',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
])

/** What an AWS SDK failure means for the sender. */
export interface AwsFailure {
  /** `auth`: credentials refused (fail over, do not retry); `temporary`: throttling, 5xx, unreachable; `rejected`: the request itself. */
  readonly kind: 'auth' | 'temporary' | 'rejected'
  /** The SDK's error name (`MessageRejected`, `OptedOut`). */
  readonly name: string
  /** The HTTP status, undefined when no response came. */
  readonly status: number | undefined
  /** `Name: message`, for the package's error. */
  readonly message: string
}

/**
 * Classifies an AWS SDK v3 failure by its error name and HTTP status: credential errors and
 * 403 are `auth`; throttling names, 429, 5xx, network errors and no response at all are
 * `temporary`; anything else is the request's fault.
 */
export function classifyAwsFailure(err: unknown): AwsFailure {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null
  const name = e?.name ?? 'Error'
  const status = e?.$metadata?.httpStatusCode
  const message = `${name}: ${e?.message ?? String(err)}`
  let kind: AwsFailure['kind'] = 'rejected'
  if (AUTH.has(name) || status === 403) kind = 'auth'
  else if (
    TEMPORARY.has(name) ||
    status === undefined ||
    status === 429 ||
    status >= 500 ||
    (e?.code !== undefined && isNetworkErrorCode(e.code))
  )
    kind = 'temporary'
  return { kind, name, status, message }
}
