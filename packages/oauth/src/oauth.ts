import { randomBytes } from 'node:crypto'
import { describeInstance, resolveConfig, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { raceAbort, type Instance } from '@beaver-kit/core'
import { createKeyRing, type KeyRing } from '@beaver-kit/krypto'
import { oauthSchema, type OAuthSettings } from './config.ts'
import { bindingCookie, clearedCookie, readCookie, type BindingCookie } from './cookie.ts'
import { OAuthError } from './errors.ts'
import { createProviderClient, type CallbackResult, type ProviderClient } from './provider-client.ts'
import { buildProviderSpec, type ProviderOptions } from './provider-registry.ts'
import { createStateCodec, memoryReplayStore, type ReplayStore } from './state.ts'
import { createProviderTransport, type ProviderHttpOptions } from './transport.ts'
import type { OAuthTokens } from './types.ts'

/** Options of `createOAuth`: BEAVER_OAUTH_* settings, the providers, and what env cannot carry. */
export interface OAuthOptions extends Omit<OAuthSettings, 'providers'>, InstanceOptions {
  /** Provider names read from BEAVER_OAUTH_<NAME>_*, or options per name (they win over env). */
  providers?: readonly string[] | Readonly<Record<string, ProviderOptions>>
  /** Where used states are remembered until they expire: memory (default, one process) or `cacheReplayStore(cache)`. */
  replayStore?: ReplayStore
  /** Options of every provider's HTTP client (e.g. a MockAgent `dispatcher`). */
  http?: ProviderHttpOptions
  /** The clock in ms. Default Date.now. */
  now?: () => number
}

/** What authorize() returns: redirect the browser to `url` and set `cookie`. */
export interface Authorization {
  url: string
  cookie: BindingCookie
  expiresAt: number
}

/** Where the callback finds the state, code and binding. */
export interface CallbackInput {
  /** The query (GET callback) or form body (Apple's form_post): a URL, a query string, URLSearchParams or an object. */
  params: URL | URLSearchParams | string | Readonly<Record<string, string | undefined>>
  /** The binding cookie's value, or the whole `Cookie` header in `cookieHeader`. */
  binding?: string | undefined
  cookieHeader?: string | undefined
  redirectUri?: string
  signal?: AbortSignal
}

/** Social login and OIDC sign-in: create with `createOAuth()`, or use the default `oauth()`. */
export interface OAuth extends Instance<InstanceDescription> {
  /** The configured provider names. */
  readonly providers: readonly string[]
  /** One provider's client (endpoints, refresh, revoke). */
  provider(name: string): ProviderClient
  /** Starts a sign-in: PKCE S256, nonce and return path sealed in an encrypted, browser-bound state. */
  authorize(
    provider: string,
    options?: {
      returnTo?: string
      redirectUri?: string
      scopes?: readonly string[]
      params?: Record<string, string>
      signal?: AbortSignal
    },
  ): Promise<Authorization>
  /** Finishes a sign-in: checks the state once, exchanges the code, verifies the ID token, reads the profile. */
  callback(provider: string, input: CallbackInput): Promise<CallbackResult & { clearCookie: string }>
  /** New tokens from a refresh token (the old refresh token is kept when the provider does not rotate it). */
  refresh(provider: string, refreshToken: string, options?: { signal?: AbortSignal }): Promise<OAuthTokens>
  /** Revokes a token at the provider (RFC 7009, or the provider's own API). */
  revoke(
    provider: string,
    token: string,
    options?: { hint?: 'access_token' | 'refresh_token'; signal?: AbortSignal },
  ): Promise<void>
}

function toParams(params: CallbackInput['params']): URLSearchParams {
  if (params instanceof URL) return params.searchParams
  if (params instanceof URLSearchParams) return params
  if (typeof params === 'string') return new URLSearchParams(params.startsWith('?') ? params.slice(1) : params)
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (typeof v === 'string') out.set(k, v)
  return out
}

/**
 * Builds an OAuth/OIDC client for several providers at once from options, then
 * `BEAVER_OAUTH_*` and `BEAVER_OAUTH_<NAME>_*`, then defaults. Does no I/O (discovery happens on
 * first use or in `ready()`); invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using auth = createOAuth({ providers: { google: { clientId, clientSecret, redirectUri } } })
 * const { url, cookie } = await auth.authorize('google', { returnTo: '/account' })
 */
export function createOAuth(options: OAuthOptions = {}): OAuth {
  const { envPrefix, env, providers: given, replayStore, http, now: clock, ...settings } = options
  const instance: InstanceOptions = { ...(envPrefix === undefined ? {} : { envPrefix }), ...(env ? { env } : {}) }
  const named =
    given === undefined ? undefined : Array.isArray(given) ? (given as readonly string[]) : Object.keys(given)
  const resolved = resolveConfig(oauthSchema, {
    options: { ...settings, ...(named ? { providers: [...named] } : {}) },
    ...instance,
  })
  const c = resolved.values
  const now = clock ?? Date.now
  const ephemeral = c.stateKeys === undefined
  const ring: KeyRing = createKeyRing(c.stateKeys ?? [{ kid: 'ephemeral', key: randomBytes(32) }])
  const state = createStateCodec({ ring, ttlMs: c.stateTtl, replay: replayStore ?? memoryReplayStore({ now }), now })
  const runtime = {
    state,
    now,
    clockSkewMs: c.clockSkew,
    discoveryTtlMs: c.discoveryTtl,
    jwksCacheTtlMs: c.jwksCacheTtl,
    jwksCooldownMs: c.jwksCooldown,
    allowHttp: c.allowHttp,
  }
  const perProvider =
    given !== undefined && !Array.isArray(given) ? (given as Readonly<Record<string, ProviderOptions>>) : {}
  const clients = new Map<string, ProviderClient>()
  const entries = [...resolved.entries]
  for (const name of new Set(c.providers)) {
    const built = buildProviderSpec(name, perProvider[name], instance, now)
    entries.push(...built.resolved.entries)
    const transport = createProviderTransport(name, { timeoutMs: c.timeout, ...(http ? { http } : {}), ...instance })
    clients.set(name, createProviderClient(built.spec, transport, runtime))
  }
  let closed = false

  function client(name: string): ProviderClient {
    if (closed) throw new OAuthError('OAUTH_CLOSED', 'This OAuth instance is closed; create a new one')
    const found = clients.get(name)
    if (!found)
      throw new OAuthError(
        'OAUTH_PROVIDER_UNKNOWN',
        `No provider "${String(name).slice(0, 40)}" is configured (configured: ${[...clients.keys()].join(', ') || 'none'}); add it to BEAVER_OAUTH_PROVIDERS or the providers option`,
        { details: { provider: String(name).slice(0, 40) } },
      )
    return found
  }

  const oauth: OAuth = {
    providers: [...clients.keys()],
    provider: client,
    async authorize(provider, opts = {}) {
      const p = client(provider)
      const { signal, ...rest } = opts
      const issued = await p.authorize(rest, signal)
      const redirect = rest.redirectUri ?? p.spec.redirectUri ?? ''
      return {
        url: issued.url,
        expiresAt: issued.expiresAt,
        cookie: bindingCookie(c.cookieName, issued.binding, {
          secure: redirect.startsWith('https:'),
          crossSitePost: p.spec.authParams.response_mode === 'form_post',
          maxAgeS: Math.ceil(c.stateTtl / 1000),
        }),
      }
    },
    async callback(provider, input) {
      const p = client(provider)
      const binding = input.binding ?? readCookie(input.cookieHeader, c.cookieName)
      const result = await p.callback(toParams(input.params), binding, {
        ...(input.redirectUri ? { redirectUri: input.redirectUri } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
      })
      return { ...result, clearCookie: clearedCookie(c.cookieName) }
    },
    refresh: (provider, refreshToken, opts = {}) => client(provider).refresh(refreshToken, opts.signal),
    revoke: (provider, token, opts = {}) => client(provider).revoke(token, opts.hint, opts.signal),
    async ready(opts = {}) {
      if (closed) throw new OAuthError('OAUTH_CLOSED', 'This OAuth instance is closed; create a new one')
      await raceAbort(Promise.all([...clients.values()].map((p) => p.endpoints(opts.signal))), { signal: opts.signal })
    },
    describe: () =>
      describeInstance('oauth', envPrefix, entries, {
        providers: [...clients.keys()].join(',') || 'none',
        stateKey: ephemeral ? 'ephemeral (one process)' : ring.currentKid,
        closed,
      }),
    async close() {
      if (closed) return
      closed = true
      await Promise.all([...clients.values()].map((p) => p.close()))
    },
    [Symbol.asyncDispose]: () => oauth.close(),
  }
  return oauth
}
