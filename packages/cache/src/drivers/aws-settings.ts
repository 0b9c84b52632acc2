import { CacheError } from '../errors.ts'
import type { DriverContext } from '../driver.ts'

/** The AWS settings an S3 or DynamoDB section holds (`BEAVER_CACHE_S3_REGION`...). */
export interface AwsSettings {
  readonly region?: string | undefined
  readonly endpoint?: string | undefined
  readonly accessKeyId?: string | undefined
  readonly secretAccessKey?: string | undefined
}

/**
 * The variable that holds a setting, for messages: under the cache's prefix when the driver
 * was built by a cache, the default name when it was created directly.
 */
export function settingName(context: DriverContext | undefined, suffix: string): string {
  return context?.variable(suffix) ?? `BEAVER_CACHE_${suffix}`
}

/**
 * AWS SDK client options from a section's settings: only what is set, so the SDK's own chain
 * (AWS_REGION, AWS_ACCESS_KEY_ID, profiles, instance roles) fills the rest. A key id without
 * its secret (or the reverse) is an error naming the missing variable.
 */
export function awsClientSettings(
  settings: AwsSettings,
  context: DriverContext | undefined,
  section: 'S3' | 'DYNAMODB',
): { region?: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } {
  const { region, endpoint, accessKeyId, secretAccessKey } = settings
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = settingName(
      context,
      `${section}_${accessKeyId === undefined ? 'ACCESS_KEY_ID' : 'SECRET_ACCESS_KEY'}`,
    )
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `The ${section.toLowerCase()} cache driver got only half of its credentials: set ${missing} too, or neither to use the AWS SDK credential chain.`,
      { details: { missing } },
    )
  }
  return {
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(accessKeyId === undefined || secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId, secretAccessKey } }),
  }
}
