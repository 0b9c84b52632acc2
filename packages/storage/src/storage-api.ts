// The public surface of a storage instance: what createStorage() takes and returns. The
// implementation is storage.ts.
import type { Readable } from 'node:stream'
import type { InstanceDescription, InstanceOptions } from '@beaver-kit/config'
import type { Instance } from '@beaver-kit/core'
import type { Body } from './body.ts'
import type { StorageSettings } from './config.ts'
import type { FileStat, ListEntry, ListPage, SignedPost, StorageDriver, Visibility } from './driver.ts'
import type { ListOptions, PutOptions, PutResult, SignedPostOptions, SignedUrlOptions } from './options.ts'
import type { ChunkedUploads } from './uploads.ts'

export interface StorageOptions extends Omit<StorageSettings, 'driver'>, InstanceOptions {
  /** A driver name (`local`, `memory`, `s3`, a registered one) or a driver you built. */
  driver?: string | StorageDriver | undefined
  /** A client for the driver (an `S3Client`), reused and never closed by the kit. */
  client?: unknown
}

/** A disk: create with `createStorage()`, or use the default `storage()`. Paths are relative, "/"-separated. */
export interface Storage extends Instance<InstanceDescription> {
  /** The driver's name (`local`, `s3`...); known once the driver is loaded, else the configured name. */
  readonly driver: string
  put(path: string, body: Body, options?: PutOptions): Promise<PutResult>
  /** The whole file in memory (bounded by maxReadSize); STORAGE_NOT_FOUND when missing. */
  get(path: string, options?: { signal?: AbortSignal }): Promise<Buffer>
  getText(path: string, options?: { signal?: AbortSignal }): Promise<string>
  getJson<T = unknown>(path: string, options?: { signal?: AbortSignal }): Promise<T>
  /** A stream of the file, or of bytes start..end (inclusive); STORAGE_NOT_FOUND when missing. */
  getStream(path: string, options?: { start?: number; end?: number; signal?: AbortSignal }): Promise<Readable>
  stat(path: string): Promise<FileStat>
  exists(path: string): Promise<boolean>
  /** The file's object tags (drivers with tags: s3, azure, gcs, local, memory); STORAGE_UNSUPPORTED elsewhere. */
  getTags(path: string): Promise<Record<string, string>>
  /** Replaces every tag of the file (`{}` removes them); STORAGE_NOT_FOUND when missing, STORAGE_UNSUPPORTED without tags. */
  setTags(path: string, tags: Readonly<Record<string, string>>): Promise<void>
  /** True when a file was removed (deleting a missing file is not an error). */
  delete(path: string): Promise<boolean>
  /** How many of the paths were removed. */
  deleteMany(paths: readonly string[]): Promise<number>
  /** Every entry under the prefix, page by page (pages of at most listPageSize). */
  list(prefix?: string, options?: ListOptions): AsyncIterable<ListEntry>
  /** One page and the cursor of the next, for APIs that hand pages to their clients. */
  listPage(prefix?: string, options?: ListOptions): Promise<ListPage>
  /** Copies with the source's attributes (server-side where the driver can). */
  copy(from: string, to: string): Promise<void>
  /** copy, then delete the source. */
  move(from: string, to: string): Promise<void>
  setVisibility(path: string, visibility: Visibility): Promise<void>
  /** The public URL (publicUrl + path); STORAGE_UNSUPPORTED when publicUrl is not set. */
  url(path: string): string
  /** A URL that grants one method on one path until it expires: presigned by the backend, or by the kit. */
  signedUrl(path: string, options?: SignedUrlOptions): Promise<string>
  /**
   * Serves kit-signed URLs (GET downloads, PUT uploads) as a fetch-style handler; mount it
   * at signing.baseUrl. Refused requests get 403, missing files 404.
   */
  handleSignedRequest(request: Request): Promise<Response>
  /**
   * A browser form upload straight to the backend (S3 presigned POST policy): the attributes
   * and a size bound (maxSize, default maxFileSize) are signed into the policy.
   */
  signedPost(path: string, options?: SignedPostOptions): Promise<SignedPost>
  /** Resumable chunked uploads and their cleanup (drivers with multipart control: s3). */
  readonly uploads: ChunkedUploads
}
