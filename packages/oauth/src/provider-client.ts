import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { createDiscovery, type Discovery } from './discovery.ts'
import { OAuthError, isOAuthError } from './errors.ts'
import { createIdTokenVerifier, type IdTokenVerifier } from './id-token.ts'
import { checkReturnTo, pkceChallenge, type StateCodec } from './state.ts'
import { clientAuthentication, requestTokens } from './token-endpoint.ts'
import type { ProviderTransport } from './transport.ts'
import type { OAuthProfile, OAuthTokens, ProviderEndpoints, ProviderSpec } from './types.ts'

/** Settings every provider client shares. */
export interface ClientRuntime {
  state: StateCodec
  now: () => number
  clockSkewMs: number
  discoveryTtlMs: number
  jwksCacheTtlMs: number
  jwksCooldownMs: number
  allowHttp: boolean
}

/** The result of a successful callback. */
export interface CallbackResult {
  profile: OAuthProfile
  tokens: OAuthTokens
  /** The path given to authorize() (default "/"). */
  returnTo: string
  /** Verified ID token claims (OIDC providers). */
  claims: Record<string, unknown> | undefined
}

/** One configured provider. */
export interface ProviderClient {
  readonly name: string
  readonly type: string
  readonly spec: ProviderSpec
  endpoints(signal?: AbortSignal): Promise<ProviderEndpoints>
  authorize(
    options: { returnTo?: string; redirectUri?: string; scopes?: readonly string[]; params?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<{ url: string; binding: string; state: string; expiresAt: number }>
  callback(
    params: URLSearchParams,
    binding: string | undefined,
    options: { redirectUri?: string; signal?: AbortSignal },
  ): Promise<CallbackResult>
  refresh(refreshToken: string, signal?: AbortSignal): Promise<OAuthTokens>
  /**
   * Verifies an ID token of this provider obtained elsewhere (a mobile app, Google One Tap):
   * signature from the provider's JWKS, iss, aud, azp, exp/iat and, when given, the nonce.
   */
  verifyIdToken(idToken: string, options?: { nonce?: string; signal?: AbortSignal }): Promise<Record<string, unknown>>
  revoke(token: string, hint: 'access_token' | 'refresh_token' | undefined, signal?: AbortSignal): Promise<void>
  close(): Promise<void>
}

export function createProviderClient(
  spec: ProviderSpec,
  transport: ProviderTransport,
  runtime: ClientRuntime,
): ProviderClient {
  const { state, now } = runtime
  const discovery: Discovery | undefined =
    spec.issuer === undefined
      ? undefined
      : createDiscovery({
          provider: spec.name,
          issuer: spec.issuer,
          transport,
          ttlMs: runtime.discoveryTtlMs,
          allowHttp: runtime.allowHttp,
          issuerTemplate: spec.issuerTemplate,
          now,
        })
  let verifier: { jwks: string; v: IdTokenVerifier } | undefined

  async function endpoints(signal?: AbortSignal): Promise<ProviderEndpoints> {
    const found = discovery ? await discovery.get(signal) : undefined
    const merged = { ...found, ...spec.endpoints } as ProviderEndpoints
    return merged
  }

  function idTokens(jwksUri: string): IdTokenVerifier {
    if (verifier?.jwks !== jwksUri) {
      verifier?.v.close()
      verifier = {
        jwks: jwksUri,
        v: createIdTokenVerifier({
          provider: spec.name,
          clientId: spec.clientId,
          jwksUri,
          transport,
          clockSkewMs: runtime.clockSkewMs,
          cacheTtlMs: runtime.jwksCacheTtlMs,
          cooldownMs: runtime.jwksCooldownMs,
          allowHttp: runtime.allowHttp,
          issuerTemplate: spec.issuerTemplate,
          now,
        }),
      }
    }
    return verifier.v
  }

  function redirectUri(given: string | undefined): string {
    const uri = given ?? spec.redirectUri
    if (uri === undefined)
      throw new OAuthError(
        'OAUTH_PROVIDER_INVALID',
        `Provider "${spec.name}" has no redirect URI: set BEAVER_OAUTH_${spec.name.toUpperCase().replaceAll('-', '_')}_REDIRECT_URI or pass redirectUri`,
        { details: { provider: spec.name } },
      )
    return uri
  }

  async function verifyIdToken(
    idToken: string,
    ep: ProviderEndpoints,
    nonce: string | undefined,
  ): Promise<Record<string, unknown>> {
    if (ep.jwks === undefined || ep.issuer === undefined)
      throw new OAuthError('OAUTH_ID_TOKEN_INVALID', `Provider ${spec.name} has no JWKS to verify ID tokens with`, {
        details: { provider: spec.name, reason: 'no-jwks' },
      })
    return idTokens(ep.jwks).verify(idToken, { nonce, issuer: ep.issuer, algorithms: ep.idTokenAlgs ?? ['RS256'] })
  }

  function rejected<T>(err: unknown): T {
    if (isOAuthError(err) && channels.rejected.hasSubscribers)
      channels.rejected.publish({ provider: spec.name, code: err.code })
    throw err
  }

  return {
    name: spec.name,
    type: spec.type,
    spec,
    endpoints,
    async authorize(options, signal) {
      const returnTo = checkReturnTo(options.returnTo)
      const ep = await endpoints(signal)
      const issued = state.issue(spec.name, returnTo)
      const url = new URL(ep.authorization)
      const scopes = options.scopes ?? spec.scopes
      const params: Record<string, string> = {
        ...options.params,
        response_type: 'code',
        client_id: spec.clientId,
        redirect_uri: redirectUri(options.redirectUri),
        state: issued.state,
        code_challenge: pkceChallenge(issued.payload.v),
        code_challenge_method: 'S256',
        ...spec.authParams,
      }
      if (scopes.length > 0) params.scope = scopes.join(spec.scopeSeparator)
      if (spec.issuer !== undefined) params.nonce = issued.payload.n
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
      return { url: url.href, binding: issued.binding, state: issued.state, expiresAt: issued.payload.e }
    },
    callback(params, binding, options) {
      return traceAsync(
        channels.callback,
        () => ({ provider: spec.name }),
        async (): Promise<CallbackResult> => {
          const payload = await state.open(params.get('state') ?? undefined, binding, spec.name)
          const error = params.get('error')
          if (error !== null) {
            const description = params.get('error_description')?.slice(0, 200)
            throw new OAuthError(
              error === 'access_denied' ? 'OAUTH_ACCESS_DENIED' : 'OAUTH_PROVIDER_ERROR',
              error === 'access_denied'
                ? `The user declined the sign-in at ${spec.name}`
                : `${spec.name} answered the sign-in with the error ${error.slice(0, 64)}`,
              { details: { provider: spec.name, error: error.slice(0, 64), errorDescription: description } },
            )
          }
          const ep = await endpoints(options.signal)
          // RFC 9207: when the provider names itself in the response, it must be the one asked.
          const iss = params.get('iss')
          if (iss !== null && ep.issuer !== undefined && !spec.issuerTemplate && iss !== ep.issuer)
            throw new OAuthError(
              'OAUTH_PROVIDER_ERROR',
              `The callback names the issuer "${iss.slice(0, 100)}", not ${spec.name}'s`,
              {
                details: { provider: spec.name },
              },
            )
          const code = params.get('code')
          if (code === null || code === '' || code.length > 4096)
            throw new OAuthError('OAUTH_PROVIDER_ERROR', `The callback from ${spec.name} has no usable "code"`, {
              details: { provider: spec.name },
            })
          const tokens = await traceAsync(
            channels.tokenRequest,
            () => ({ provider: spec.name, grant: 'authorization_code' }),
            () =>
              requestTokens(
                spec,
                ep.token,
                transport,
                {
                  grant_type: 'authorization_code',
                  code,
                  redirect_uri: redirectUri(options.redirectUri),
                  code_verifier: payload.v,
                },
                now,
                options.signal,
              ),
          )
          let claims: Record<string, unknown> | undefined
          if (spec.issuer !== undefined) {
            if (tokens.idToken === undefined)
              throw new OAuthError(
                'OAUTH_ID_TOKEN_INVALID',
                `${spec.name} returned no ID token (is "openid" among the scopes?)`,
                {
                  details: { provider: spec.name, reason: 'missing' },
                },
              )
            claims = await verifyIdToken(tokens.idToken, ep, payload.n)
          }
          const profile = await spec.profile({
            provider: spec.name,
            tokens,
            claims,
            params,
            endpoints: ep,
            transport,
            signal: options.signal,
          })
          return { profile, tokens, returnTo: payload.r, claims }
        },
      ).catch(rejected<CallbackResult>)
    },
    async refresh(refreshToken, signal) {
      const ep = await endpoints(signal)
      const tokens = await traceAsync(
        channels.tokenRequest,
        () => ({ provider: spec.name, grant: 'refresh_token' }),
        () =>
          requestTokens(
            spec,
            ep.token,
            transport,
            { grant_type: 'refresh_token', refresh_token: refreshToken },
            now,
            signal,
          ),
      )
      // A refreshed ID token is verified like the first (no nonce: OIDC Core 12.2).
      if (tokens.idToken !== undefined && spec.issuer !== undefined) await verifyIdToken(tokens.idToken, ep, undefined)
      // Providers that do not rotate refresh tokens omit it: the old one stays valid.
      return { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken }
    },
    async verifyIdToken(idToken, options = {}) {
      if (spec.issuer === undefined)
        throw new OAuthError(
          'OAUTH_ID_TOKEN_INVALID',
          `${spec.name} is not an OpenID Connect provider: it issues no ID tokens`,
          {
            details: { provider: spec.name, reason: 'not-oidc' },
          },
        )
      const ep = await endpoints(options.signal)
      return verifyIdToken(idToken, ep, options.nonce).catch(rejected<Record<string, unknown>>)
    },
    async revoke(token, hint, signal) {
      if (spec.revoke) return spec.revoke({ token, transport, signal })
      const ep = await endpoints(signal)
      if (ep.revocation === undefined)
        throw new OAuthError('OAUTH_REVOKE_UNSUPPORTED', `${spec.name} has no revocation endpoint`, {
          details: { provider: spec.name },
        })
      const auth = clientAuthentication(spec)
      const res = await transport.postForm(
        ep.revocation,
        { token, ...(hint ? { token_type_hint: hint } : {}), ...auth.form },
        auth.headers,
        signal,
      )
      if (res.status !== 200)
        throw new OAuthError('OAUTH_PROVIDER_ERROR', `${spec.name} refused the revocation (HTTP ${res.status})`, {
          details: { provider: spec.name, status: res.status },
        })
    },
    async close() {
      verifier?.v.close()
      await transport.close()
    },
  }
}
