import type { ProviderTransport } from './transport.ts'

/** The same profile shape from every provider. */
export interface OAuthProfile {
  /** The provider name (`google`, `github`, or the name you gave a generic provider). */
  provider: string
  /** The provider's stable user id (OIDC `sub`, GitHub/Facebook numeric id as text). */
  id: string
  email: string | undefined
  /** True only when the provider states that it verified this address. */
  emailVerified: boolean
  name: string | undefined
  avatarUrl: string | undefined
  /** What the provider returned (ID token claims, userinfo or user API answer). */
  raw: Record<string, unknown>
}

/** Tokens from a token endpoint. Treat every field as a secret. */
export interface OAuthTokens {
  accessToken: string
  tokenType: string
  refreshToken: string | undefined
  idToken: string | undefined
  /** Expiry of the access token, ms since the epoch, when the provider said. */
  expiresAt: number | undefined
  scope: string | undefined
}

/** Endpoints of a provider, from discovery or from its preset. */
export interface ProviderEndpoints {
  authorization: string
  token: string
  userinfo?: string | undefined
  revocation?: string | undefined
  /** OIDC only. */
  issuer?: string | undefined
  jwks?: string | undefined
  /** ID token algorithms the provider announces (never `none` or HS* once filtered). */
  idTokenAlgs?: readonly string[] | undefined
}

/** What a provider's profile function is handed. */
export interface ProfileContext {
  provider: string
  tokens: OAuthTokens
  /** Verified ID token claims (OIDC). */
  claims: Record<string, unknown> | undefined
  /** The callback parameters (Apple sends the user's name once, in `user`). */
  params: URLSearchParams
  endpoints: ProviderEndpoints
  transport: ProviderTransport
  signal: AbortSignal | undefined
}

/** How a provider differs from the generic code: built from its settings by a preset. */
export interface ProviderSpec {
  name: string
  type: string
  /** OIDC: discovery from this issuer and ID token verification. */
  issuer: string | undefined
  /** Endpoints known without discovery (OAuth2 presets), or overrides of discovered ones. */
  endpoints: Partial<ProviderEndpoints>
  clientId: string
  /** Static secret, or a function (Apple's signed JWT). */
  clientSecret: string | (() => string) | undefined
  redirectUri: string | undefined
  scopes: readonly string[]
  /** How the client authenticates at the token endpoint. */
  clientAuth: 'client_secret_basic' | 'client_secret_post'
  /** Extra authorization parameters (Apple: response_mode=form_post). */
  authParams: Readonly<Record<string, string>>
  /** Scope separator in the authorization URL (space; Facebook takes commas too). */
  scopeSeparator: string
  /** Issuer check for multi-tenant issuers (Microsoft `{tenantid}`). */
  issuerTemplate: boolean
  profile(ctx: ProfileContext): Promise<OAuthProfile>
  /** Revokes a token when the provider's API is not RFC 7009 (GitHub, Facebook). */
  revoke?(ctx: { token: string; transport: ProviderTransport; signal: AbortSignal | undefined }): Promise<void>
}
