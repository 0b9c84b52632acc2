import { QueueError } from '../errors.ts'

/** An SQS failure as a QueueError naming the setting to check (credentials or endpoint and region). */
export function sqsError(error: unknown, what: string): QueueError {
  const e = error as { name?: string; message?: string }
  const auth = /credential|signature|security token|AccessDenied/i.test(`${e.name} ${e.message}`)
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    `SQS could not ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}; ${
      auth
        ? 'check the AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...)'
        : 'check BEAVER_QUEUE_SQS_ENDPOINT and BEAVER_QUEUE_SQS_REGION'
    }.`,
    { cause: error },
  )
}
