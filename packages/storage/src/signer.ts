import { createHmac, timingSafeEqual } from 'node:crypto'
import { StorageError } from './errors.ts'

/** The kit's URL signer, for drivers the backend cannot presign for (local, memory). */
export interface UrlSigner {
  sign(key: string, method: 'GET' | 'PUT', expiresAt: number, contentType?: string): string
  /** The key and method a signed URL grants, or a STORAGE_SIGNATURE_INVALID error. */
  verify(url: URL, method: string, now: number): { key: string; contentType?: string | undefined }
}

function invalid(why: string): never {
  throw new StorageError('STORAGE_SIGNATURE_INVALID', `The signed URL is refused: ${why}.`, { details: { why } })
}

/**
 * HMAC-SHA256 over method, key, expiry and (uploads) the content type, in the query as
 * `expires` (unix seconds) and `signature` (base64url). The key is in the path, each segment
 * percent-encoded, under `baseUrl`.
 */
export function createUrlSigner(secret: string, baseUrl: string): UrlSigner {
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  const mac = (method: string, key: string, expires: string, contentType: string): Buffer =>
    createHmac('sha256', secret).update(`${method}\n${key}\n${expires}\n${contentType}`).digest()
  return {
    sign(key, method, expiresAt, contentType = '') {
      const url = new URL(key.split('/').map(encodeURIComponent).join('/'), base)
      const expires = String(Math.floor(expiresAt / 1000))
      url.searchParams.set('expires', expires)
      if (method === 'PUT') url.searchParams.set('method', 'PUT')
      if (contentType) url.searchParams.set('contentType', contentType)
      url.searchParams.set('signature', mac(method, key, expires, contentType).toString('base64url'))
      return url.href
    },
    verify(url, method, now) {
      if (!url.pathname.startsWith(base.pathname)) invalid('it is not under the signing base URL')
      const expires = url.searchParams.get('expires') ?? ''
      const signature = url.searchParams.get('signature') ?? ''
      const signedMethod = url.searchParams.get('method') ?? 'GET'
      const contentType = url.searchParams.get('contentType') ?? ''
      if (!/^\d{1,12}$/.test(expires) || signature === '') invalid('it has no valid expires and signature')
      if (signedMethod !== (method === 'HEAD' ? 'GET' : method))
        invalid(`it was signed for ${signedMethod}, not ${method}`)
      let key: string
      try {
        key = url.pathname.slice(base.pathname.length).split('/').map(decodeURIComponent).join('/')
      } catch {
        invalid('its path is not valid percent-encoding')
      }
      const given = Buffer.from(signature, 'base64url')
      const wanted = mac(signedMethod, key, expires, contentType)
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) invalid('the signature does not match')
      if (Number(expires) * 1000 < now) invalid('it has expired')
      return { key, contentType: contentType || undefined }
    },
  }
}
