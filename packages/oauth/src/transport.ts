import type { InstanceOptions } from '@beaver-kit/config'
import { createHttpClient, type HttpClient, type HttpClientOptions } from '@beaver-kit/http'

/** What the provider code needs from HTTP: JSON GETs, form POSTs, and a fetch for the JWKS. */
export interface ProviderTransport {
  getJson(
    url: string,
    headers?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }>
  postForm(
    url: string,
    form: Record<string, string>,
    headers?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }>
  request(
    method: 'DELETE' | 'POST',
    url: string,
    headers?: Record<string, string>,
    signal?: AbortSignal,
    json?: Record<string, string>,
  ): Promise<{ status: number; body: unknown }>
  /** A fetch over the same client, for krypto's remote JWKS. */
  fetch: typeof fetch
  close(): Promise<void>
}

/** Extra options of the HTTP client of every provider (a MockAgent dispatcher, interceptors, ...). */
export type ProviderHttpOptions = Omit<HttpClientOptions, keyof InstanceOptions | 'breaker' | 'baseUrl'>

const MAX_RESPONSE = 1024 * 1024

function parseBody(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    // GitHub answers a token request with a form body unless asked for JSON; keep it readable.
    return text.includes('=') && !text.includes('<') ? Object.fromEntries(new URLSearchParams(text)) : text
  }
}

/**
 * One HTTP client per provider: its own circuit breaker (keyed by the provider name, whatever
 * host a call goes to), a deadline per call, responses capped at 1 MiB, and no retry of POSTs
 * (a token request is single-use).
 */
export function createProviderTransport(
  provider: string,
  options: { timeoutMs: number; http?: ProviderHttpOptions } & InstanceOptions,
): ProviderTransport {
  const client: HttpClient = createHttpClient({
    ...options.http,
    ...(options.envPrefix === undefined ? {} : { envPrefix: options.envPrefix }),
    ...(options.env === undefined ? {} : { env: options.env }),
    timeouts: { total: options.timeoutMs, ...options.http?.timeouts },
    limits: { maxResponseSize: MAX_RESPONSE, ...options.http?.limits },
    throwHttpErrors: false,
    breaker: { key: () => `oauth:${provider}` },
  })
  const accept = { accept: 'application/json' }
  return {
    async getJson(url, headers, signal) {
      const res = await client.get(url, { headers: { ...accept, ...headers }, ...(signal ? { signal } : {}) })
      return { status: res.status, body: parseBody(await res.text()) }
    },
    async postForm(url, form, headers, signal) {
      const res = await client.post(url, {
        body: new URLSearchParams(form),
        headers: { ...accept, ...headers },
        redirect: 'error',
        ...(signal ? { signal } : {}),
      })
      return { status: res.status, body: parseBody(await res.text()) }
    },
    async request(method, url, headers, signal, json) {
      const res = await client.request(method, url, {
        headers: { ...accept, ...headers },
        ...(json ? { json } : {}),
        ...(signal ? { signal } : {}),
      })
      return { status: res.status, body: parseBody(await res.text()) }
    },
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input)
      const res = await client.get(url, {
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        ...(init?.signal ? { signal: init.signal } : {}),
      })
      const body = await res.bytes()
      return new Response(res.status === 204 || res.status === 304 ? null : new Uint8Array(body), {
        status: res.status,
        headers: Object.entries(res.headers).flatMap(([k, v]) =>
          v === undefined
            ? []
            : Array.isArray(v)
              ? v.map((x) => [k, x] as [string, string])
              : [[k, v] as [string, string]],
        ),
      })
    }) as typeof fetch,
    close: () => client.close(),
  }
}
