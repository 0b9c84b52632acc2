import { defineDefaultInstance } from '@beaver-kit/core'
import { createHttpClient, type HttpClient } from './http.ts'
import type { HttpClientOptions } from './options.ts'

const slot = defineDefaultInstance<HttpClient, HttpClientOptions>('http', createHttpClient)

/**
 * The default client, built from `BEAVER_HTTP_*` on first use and closed by `shutdown()`;
 * rethrows its configuration error until the environment is fixed.
 * @example const page = await http().get('https://example.com/').text()
 */
export const http: () => HttpClient = slot.get

/**
 * Configures the default client before its first use; throws once it exists.
 * @example initHttp({ egress: { deny: 'private' } })
 */
export const initHttp: (options?: HttpClientOptions) => HttpClient = slot.init

/** Closes and forgets the default client (tests); the next `http()` builds a new one. */
export const resetHttp: () => Promise<void> = slot.reset

/**
 * A new client (not the default) configured from another env prefix: `withPrefix('GITHUB_')`
 * reads `GITHUB_HTTP_*`; `options` beat that environment.
 * @example const github = withPrefix('GITHUB_', { timeouts: { total: '10s' } })
 */
export const withPrefix: (prefix: string, options?: Omit<HttpClientOptions, 'envPrefix'>) => HttpClient =
  slot.withPrefix
