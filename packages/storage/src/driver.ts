import type { Readable } from 'node:stream'
import type { DriverDefinitionBase } from '@beaver-kit/core'

/** public: readable by anyone who has the URL (url()); private: only through the API or a signed URL. */
export type Visibility = 'public' | 'private'

/** What is stored beside the bytes, identical whichever way (one request or parts) the file went up. */
export interface FileAttributes {
  contentType?: string | undefined
  cacheControl?: string | undefined
  contentDisposition?: string | undefined
  /** Custom metadata: lowercase ASCII names (letters, digits, "-"), string values. */
  metadata?: Readonly<Record<string, string>> | undefined
  visibility?: Visibility | undefined
}

/** What stat() returns. */
export interface FileStat {
  path: string
  size: number
  lastModified: Date
  etag?: string | undefined
  contentType: string
  cacheControl?: string | undefined
  contentDisposition?: string | undefined
  metadata: Record<string, string>
  visibility: Visibility
  /** Object tags, on drivers with capabilities.tags (empty when the file has none); absent elsewhere. */
  tags?: Record<string, string> | undefined
}

/** One entry of a listing: a file, or (non-recursive listings) a folder prefix ending with "/". */
export type ListEntry =
  { type: 'file'; path: string; size: number; lastModified: Date } | { type: 'folder'; path: string }

/** What a driver's put() receives: the body as a stream of bytes and the resolved attributes. */
export interface DriverPut {
  body: Readable
  /** The byte length when the caller knew it (string, bytes, or given), else undefined. */
  size?: number | undefined
  attributes: FileAttributes & { contentType: string; visibility: Visibility }
  signal?: AbortSignal | undefined
  /** Called with the bytes sent so far. */
  onProgress?: ((bytes: number) => void) | undefined
  /** Object tags (drivers with capabilities.tags); the facade refuses them elsewhere. */
  tags?: Readonly<Record<string, string>> | undefined
}

/** What a driver's list() returns: one page, and the cursor of the next when there is one. */
export interface ListPage {
  entries: ListEntry[]
  cursor?: string | undefined
}

/** What a driver does natively; the facade fills gaps (copy by streaming, kit-signed URLs) or refuses. */
export interface StorageCapabilities {
  /** Presigned GET/PUT URLs by the backend itself (else the kit's signer and handleSignedRequest()). */
  signedUrls: boolean
  /** Server-side copy (else the facade streams the bytes through). */
  nativeCopy: boolean
  /** Byte ranges served by the backend. */
  ranges: boolean
  /** Uploads in parts (metadata given when the upload is created). */
  multipart: boolean
  /** False for a read-only disk (a zip archive): put, delete, copy, move and setVisibility fail with STORAGE_READ_ONLY. Default true. */
  writable?: boolean | undefined
  /**
   * Object tags: set with the upload, replaced with setTags(), read by stat() and getTags()
   * (S3 object tagging, Azure blob index tags, a GCS metadata entry, the local sidecar, memory).
   */
  tags?: boolean | undefined
}

/** A browser form upload: POST multipart/form-data to `url` with `fields` first, then the file as `file`. */
export interface SignedPost {
  url: string
  fields: Record<string, string>
}

/** One uploaded part of a multipart upload. */
export interface UploadedPart {
  partNumber: number
  etag: string
  /** Bytes in the part, when known (listParts() and uploadPart() know it). */
  size?: number | undefined
}

/** A multipart upload that was started and neither completed nor aborted. */
export interface PendingUpload {
  key: string
  uploadId: string
  initiated: Date
}

/**
 * Multipart control of a driver (S3): uploads a client drives part by part, resumes after a
 * crash, or sends straight from a browser with presigned part URLs. Attributes are given when
 * the upload is created, as put() gives them, so a file reads back the same either way.
 */
export interface DriverUploads {
  create(key: string, attributes: DriverPut['attributes'], tags?: DriverPut['tags']): Promise<string>
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    part: { body: Readable | Buffer; size: number; signal?: AbortSignal | undefined },
  ): Promise<UploadedPart>
  partUrl(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string>
  listParts(key: string, uploadId: string): Promise<UploadedPart[]>
  complete(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string | undefined }>
  abort(key: string, uploadId: string): Promise<void>
  /** Every pending upload under the prefix, oldest first. */
  listPending(prefix: string): Promise<PendingUpload[]>
}

/**
 * A storage driver: a few primitives on already checked, namespaced keys. The facade adds
 * path checks, size limits, checksums, defaults, copy fallbacks, signed URLs and tracing.
 */
export interface StorageDriver {
  readonly name: string
  readonly capabilities: StorageCapabilities
  /** Stores the body under key, all or nothing: a failed or aborted body leaves no object. */
  put(key: string, input: DriverPut): Promise<{ size: number; etag?: string | undefined; multipart: boolean }>
  /** The bytes (of a range: start..end inclusive), or undefined when there is no such file. */
  getStream(key: string, options: { start?: number; end?: number; signal?: AbortSignal }): Promise<Readable | undefined>
  /**
   * The whole file in one buffer, or undefined when there is no such file; optional (get()
   * reads getStream() otherwise). A file over maxBytes fails with STORAGE_TOO_LARGE.
   */
  read?(key: string, options: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<Buffer | undefined>
  stat(key: string): Promise<Omit<FileStat, 'path'> | undefined>
  /** True when a file was removed. */
  delete(key: string): Promise<boolean>
  /** One page of keys under prefix, in lexicographic (UTF-8 byte) order; at most `limit` entries. */
  list(prefix: string, options: { recursive: boolean; limit: number; cursor?: string | undefined }): Promise<ListPage>
  /** Server-side copy with the source's attributes; present only with capabilities.nativeCopy. */
  copy?(from: string, to: string): Promise<boolean>
  /** A presigned URL; present only with capabilities.signedUrls. Undefined: this path is signed by the kit instead. */
  signedUrl?(
    key: string,
    options: { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined },
  ): Promise<string | undefined>
  setVisibility?(key: string, visibility: Visibility): Promise<boolean>
  /** The object's tags, or undefined when there is no such file; present with capabilities.tags. */
  getTags?(key: string): Promise<Record<string, string> | undefined>
  /** Replaces every tag of the file; false when there is no such file. Present with capabilities.tags. */
  setTags?(key: string, tags: Readonly<Record<string, string>>): Promise<boolean>
  /** A presigned POST policy (S3): the attributes and a size bound are part of what is signed. */
  signedPost?(
    key: string,
    options: { expiresInSeconds: number; maxBytes: number; attributes: DriverPut['attributes'] },
  ): Promise<SignedPost>
  /** Multipart control (initiate, parts, complete, abort, pending uploads); present where the backend has it. */
  readonly uploads?: DriverUploads | undefined
  ready?(signal?: AbortSignal): Promise<void>
  close?(): Promise<void>
}

/** What a driver definition's create() receives besides its own options. */
export interface StorageDriverContext {
  /** The full variable name of a setting of this storage: `variable('S3_BUCKET')` → `BEAVER_STORAGE_S3_BUCKET`. */
  variable(suffix: string): string
}

/** A driver definition: its name, the optional peers it loads, and how to build it. */
export interface StorageDriverDefinition<O = unknown> extends DriverDefinitionBase {
  /** The settings section it reads (`s3` → BEAVER_STORAGE_S3_*). */
  readonly section?: string
  create(options: O, context: StorageDriverContext): StorageDriver | Promise<StorageDriver>
}

/**
 * Declares a driver definition (typing helper).
 * @example export const myDriver = defineStorageDriver({ name: 'my', create: (o) => new MyDisk(o) })
 */
export function defineStorageDriver<O>(definition: StorageDriverDefinition<O>): StorageDriverDefinition<O> {
  return Object.freeze(definition)
}

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'
