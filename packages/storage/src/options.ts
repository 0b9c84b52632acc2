import type { Checksum } from './body.ts'
import type { FileAttributes } from './driver.ts'

/** Options of put(). */
export interface PutOptions extends FileAttributes {
  /** The body's length in bytes when you know it and the body is a stream. */
  size?: number | undefined
  checksum?: Checksum | undefined
  signal?: AbortSignal | undefined
  /**
   * Object tags (at most 10; names 1-128 and values up to 256 letters, digits, spaces or
   * `+ - = . _ : /`), stored with the upload itself, single or multipart. A driver without
   * tags refuses them with STORAGE_UNSUPPORTED.
   */
  tags?: Readonly<Record<string, string>> | undefined
  /** Called with the bytes read from the body so far. */
  onProgress?: ((bytes: number) => void) | undefined
}

/** What put() returns. */
export interface PutResult {
  path: string
  size: number
  etag?: string | undefined
  /** True when the driver uploaded it in parts. */
  multipart: boolean
}

export interface ListOptions {
  /** Walk every level under the prefix (default), or list one level with folders. */
  recursive?: boolean | undefined
  /** Most entries the iterator yields (listPage(): most entries of the page, at most listPageSize). */
  limit?: number | undefined
  /** Continue after the page this cursor came from (listPage()'s `cursor`). */
  cursor?: string | undefined
  signal?: AbortSignal | undefined
}

export interface SignedPostOptions extends FileAttributes {
  /** Lifetime in ms or as `'15m'`; default signing.expiresIn. */
  expiresIn?: number | string | undefined
  /** Largest file the form may carry, in bytes; default maxFileSize. */
  maxSize?: number | undefined
}

export interface SignedUrlOptions {
  /** Lifetime in ms or as `'15m'`; default signing.expiresIn. */
  expiresIn?: number | string | undefined
  /** GET downloads (default); PUT uploads (the uploader sends this content type). */
  method?: 'GET' | 'PUT' | undefined
  contentType?: string | undefined
}
