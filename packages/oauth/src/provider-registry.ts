import { resolveConfig, type InstanceOptions, type ResolvedConfig } from '@beaver-kit/config'
import { PROVIDER_TYPES, providerSchema, type ProviderSettings, type ProviderType } from './config.ts'
import { OAuthError } from './errors.ts'
import { appleProvider } from './providers/apple.ts'
import type { ProviderInput } from './providers/base.ts'
import { facebookProvider } from './providers/facebook.ts'
import { githubProvider } from './providers/github.ts'
import { oauth2Provider } from './providers/oauth2.ts'
import { googleProvider, microsoftProvider, oidcProvider } from './providers/oidc.ts'
import type { OAuthProfile, ProviderSpec } from './types.ts'

/** Options of one provider given in code; they win over BEAVER_OAUTH_<NAME>_*. */
export type ProviderOptions = ProviderSettings & {
  /** Generic OAuth2 providers: maps the user API answer to the profile. */
  mapProfile?: (raw: Record<string, unknown>) => Partial<Omit<OAuthProfile, 'provider' | 'raw'>>
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/

/** Resolves one provider's settings (env + options) and builds its spec; a bad setting throws a ConfigError naming it. */
export function buildProviderSpec(
  name: string,
  options: ProviderOptions | undefined,
  instance: InstanceOptions,
  now: () => number,
): { spec: ProviderSpec; resolved: ResolvedConfig<unknown> } {
  if (!NAME.test(name))
    throw new OAuthError(
      'OAUTH_PROVIDER_INVALID',
      `Provider name "${name.slice(0, 40)}" must be lower case letters, digits and dashes (it names BEAVER_OAUTH_<NAME>_*)`,
    )
  const { mapProfile, ...settings } = options ?? {}
  const resolved = resolveConfig(providerSchema(name), {
    options: settings,
    envPrefix: instance.envPrefix,
    ...(instance.env ? { env: instance.env } : {}),
  })
  const values = resolved.values as ProviderInput
  const type: ProviderType | undefined =
    values.type ?? ((PROVIDER_TYPES as readonly string[]).includes(name) ? (name as ProviderType) : undefined)
  const input: ProviderInput = { ...values, name }
  let spec: ProviderSpec
  switch (type) {
    case 'google':
      spec = googleProvider(input)
      break
    case 'microsoft':
      spec = microsoftProvider(input)
      break
    case 'apple':
      spec = appleProvider(input, now)
      break
    case 'github':
      spec = githubProvider(input)
      break
    case 'facebook':
      spec = facebookProvider(input)
      break
    case 'oidc':
      spec = oidcProvider(input)
      break
    case 'oauth2':
      spec = oauth2Provider(input, mapProfile)
      break
    default:
      throw new OAuthError(
        'OAUTH_PROVIDER_INVALID',
        `Provider "${name}" needs a type: set BEAVER_OAUTH_${name.toUpperCase().replaceAll('-', '_')}_TYPE to one of ${PROVIDER_TYPES.join(', ')}`,
        { details: { provider: name } },
      )
  }
  return { spec, resolved: resolved as ResolvedConfig<unknown> }
}
