import type { HttpClient } from '@beaver-kit/http'

const TITLE = /<title[^>]*>([^<]{1,512})<\/title>/i
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" }

/**
 * Fetches a page through the kit's HTTP client (retries, breaker per host, size limit) and
 * returns its <title>, or undefined when the page has none.
 */
export async function fetchTitle(
  http: HttpClient,
  url: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<string | undefined> {
  const text = await http
    .get(url, {
      timeouts: { total: options.timeoutMs },
      maxResponseSize: '1mb',
      signal: options.signal,
      route: 'title-fetch',
      headers: { accept: 'text/html' },
    })
    .text()
  const match = TITLE.exec(text)
  if (!match?.[1]) return undefined
  return match[1].replace(/&(amp|lt|gt|quot|#39|apos);/g, (_, e: string) => ENTITIES[e] ?? '').trim()
}
