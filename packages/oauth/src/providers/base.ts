import { OAuthError } from '../errors.ts'
import type { ProviderConfig } from '../config.ts'
import type { ProviderSpec } from '../types.ts'

/** The resolved settings a preset is built from (env and code options merged). */
export type ProviderInput = Partial<ProviderConfig> & { name: string }

export function required<K extends keyof ProviderInput>(
  input: ProviderInput,
  key: K,
  what: string,
): NonNullable<ProviderInput[K]> {
  const value = input[key]
  if (value === undefined || value === '') {
    const env = `BEAVER_OAUTH_${input.name.toUpperCase().replaceAll('-', '_')}_${String(key)
      .replace(/[A-Z]/g, (c) => `_${c}`)
      .toUpperCase()}`
    throw new OAuthError(
      'OAUTH_PROVIDER_INVALID',
      `Provider "${input.name}" needs ${what}: set ${env} or the option ${String(key)}`,
      {
        details: { provider: input.name, setting: env },
      },
    )
  }
  return value as NonNullable<ProviderInput[K]>
}

/** The fields every preset fills the same way. */
export function baseSpec(
  input: ProviderInput,
  type: string,
): Omit<ProviderSpec, 'profile' | 'issuer' | 'endpoints' | 'scopes'> {
  return {
    name: input.name,
    type,
    clientId: required(input, 'clientId', 'a client id'),
    clientSecret: input.clientSecret,
    redirectUri: input.redirectUri,
    clientAuth: input.tokenAuth ?? 'client_secret_basic',
    authParams: {},
    scopeSeparator: ' ',
    issuerTemplate: false,
  }
}

export const endpointOverrides = (input: ProviderInput): ProviderSpec['endpoints'] => ({
  ...(input.authorizationUrl ? { authorization: input.authorizationUrl } : {}),
  ...(input.tokenUrl ? { token: input.tokenUrl } : {}),
})

/** The input with preset defaults where the user set nothing (an unset setting is `undefined`, which must not win). */
export function withDefaults(input: ProviderInput, defaults: Partial<ProviderInput>): ProviderInput {
  const out: ProviderInput = { ...input }
  for (const [k, v] of Object.entries(defaults)) {
    const key = k as keyof ProviderInput
    if (out[key] === undefined) (out as Record<string, unknown>)[key] = v
  }
  return out
}
