import { createProviderClient, type ProviderRequest, type ProviderResponse } from '@beaver-kit/delivery'
import type { SmsConfig } from '../config.ts'
import { SmsError } from '../errors.ts'
import { httpFailure } from '../failures.ts'

/** Settings only code can give an HTTP driver: more `@beaver-kit/http` client options. */
export interface HttpDriverExtras {
  http?: Readonly<Record<string, unknown>> | undefined
}

/** A provider API client whose failures are SmsErrors. */
export interface SmsProviderApi {
  post(path: string, request: ProviderRequest): Promise<ProviderResponse>
  close(): Promise<void>
}

export function requireSetting(value: string | undefined, variable: string, driver: string): string {
  if (value === undefined || value === '') {
    throw new SmsError('SMS_OPTIONS_INVALID', `The ${driver} SMS driver needs ${variable}.`, {
      details: { field: variable },
    })
  }
  return value
}

/** The provider API through `@beaver-kit/http`, failures classified for the SMS facade. */
export async function smsProviderApi(
  driver: string,
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  config: SmsConfig,
  extras: HttpDriverExtras,
  describe: Parameters<typeof httpFailure>[2],
  /** 1 for a driver the facade retries itself (one whose refusals arrive as 200 answers). */
  attempts = config.retry.attempts,
): Promise<SmsProviderApi> {
  const client = await createProviderClient({
    neededBy: `the ${driver} SMS driver`,
    baseUrl,
    headers,
    retry: { attempts, baseDelay: config.retry.baseDelay, maxDelay: config.retry.maxDelay },
    http: extras.http,
    userAgent: 'beaver-kit-sms',
  })
  return {
    async post(path, request) {
      try {
        return await client.post(path, request)
      } catch (err) {
        throw httpFailure(driver, err, describe)
      }
    },
    close: () => client.close(),
  }
}
