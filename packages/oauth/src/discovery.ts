import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { OAuthError } from './errors.ts'
import type { ProviderTransport } from './transport.ts'
import type { ProviderEndpoints } from './types.ts'

/** Reads and caches `/.well-known/openid-configuration` of one issuer (deduplicated fetches). */
export interface Discovery {
  get(signal?: AbortSignal): Promise<ProviderEndpoints>
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** The signing algorithms an RP may accept: the provider's list without `none` and without HMAC. */
export function safeAlgorithms(list: unknown): readonly string[] {
  const given = Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string') : ['RS256']
  return given.filter((a) => a !== 'none' && !a.startsWith('HS'))
}

export function createDiscovery(options: {
  provider: string
  issuer: string
  transport: ProviderTransport
  ttlMs: number
  allowHttp: boolean
  /** Microsoft's multi-tenant documents name `{tenantid}` in their issuer. */
  issuerTemplate: boolean
  now: () => number
}): Discovery {
  const { provider, issuer, transport, ttlMs, allowHttp, now } = options
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
  let cached: { at: number; endpoints: ProviderEndpoints } | undefined
  let inflight: Promise<ProviderEndpoints> | undefined

  const failed = (message: string, cause?: unknown): OAuthError =>
    new OAuthError('OAUTH_DISCOVERY_FAILED', `Discovery of ${provider} at ${url}: ${message}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { provider, url },
    })

  function endpoint(doc: Record<string, unknown>, name: string, required: boolean): string | undefined {
    const value = str(doc[name])
    if (value === undefined) {
      if (required) throw failed(`"${name}" is missing`)
      return undefined
    }
    const parsed = URL.canParse(value) ? new URL(value) : undefined
    if (!parsed || (parsed.protocol !== 'https:' && !(allowHttp && parsed.protocol === 'http:')))
      throw failed(`"${name}" is not an https URL (${value.slice(0, 100)}); http:// needs BEAVER_OAUTH_ALLOW_HTTP=true`)
    return value
  }

  async function load(signal?: AbortSignal): Promise<ProviderEndpoints> {
    let res: { status: number; body: unknown }
    try {
      res = await transport.getJson(url, undefined, signal)
    } catch (err) {
      throw failed(`the request failed (${(err as Error).message})`, err)
    }
    if (res.status !== 200) throw failed(`HTTP ${res.status}`)
    if (typeof res.body !== 'object' || res.body === null) throw failed('the answer is not a JSON object')
    const doc = res.body as Record<string, unknown>
    // The document must name the issuer it was fetched from (OIDC Discovery 4.3): a document
    // that names another issuer would let one provider pass off its tokens as another's.
    const announced = str(doc.issuer)
    if (announced === undefined) throw failed('"issuer" is missing')
    if (!options.issuerTemplate && announced !== issuer)
      throw failed(`it names the issuer "${announced}", not the configured "${issuer}"`)
    const endpoints: ProviderEndpoints = {
      issuer: announced,
      authorization: endpoint(doc, 'authorization_endpoint', true) as string,
      token: endpoint(doc, 'token_endpoint', true) as string,
      jwks: endpoint(doc, 'jwks_uri', true) as string,
      userinfo: endpoint(doc, 'userinfo_endpoint', false),
      revocation: endpoint(doc, 'revocation_endpoint', false),
      idTokenAlgs: safeAlgorithms(doc.id_token_signing_alg_values_supported),
    }
    if (endpoints.idTokenAlgs?.length === 0)
      throw failed('it announces no asymmetric ID token algorithm (only none or HMAC), which this client refuses')
    cached = { at: now(), endpoints }
    return endpoints
  }

  return {
    get(signal) {
      if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.endpoints)
      inflight ??= traceAsync(
        channels.discovery,
        () => ({ provider }),
        () => load(signal),
      ).finally(() => {
        inflight = undefined
      })
      return inflight
    },
  }
}
