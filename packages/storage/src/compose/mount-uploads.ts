import type { Readable } from 'node:stream'
import type { DriverPut, DriverUploads, PendingUpload, StorageDriver, UploadedPart } from '../driver.ts'
import { StorageError } from '../errors.ts'

/** A path's mount as the mounts see it: the disk, its mount point, and the key on that disk. */
export interface RoutedKey {
  disk: StorageDriver
  /** The mount point without slashes ("" for the root). */
  point: string
  /** What keys of the mount start with ("avatars/", "" for the root). */
  base: string
  inner: string
}

/**
 * Multipart control across mounts: each call goes to the disk the path is mounted on, with the
 * mount point taken off (an upload id is only ever used with the path it was made for, so the
 * path alone routes every step). A mount whose disk has no multipart control refuses with
 * STORAGE_UNSUPPORTED naming the mount; pending uploads are gathered from every mount the
 * prefix reaches, oldest first.
 */
export class MountUploads implements DriverUploads {
  readonly #route: (key: string) => RoutedKey
  readonly #reach: (prefix: string) => RoutedKey[]

  constructor(route: (key: string) => RoutedKey, reach: (prefix: string) => RoutedKey[]) {
    this.#route = route
    this.#reach = reach
  }

  #control(key: string): { uploads: DriverUploads; inner: string } {
    const { disk, point, inner } = this.#route(key)
    if (!disk.uploads)
      throw new StorageError(
        'STORAGE_UNSUPPORTED',
        `The ${disk.name} disk mounted at "/${point}" has no multipart control (${JSON.stringify(key)}); mount a disk that has it (s3) there.`,
        { details: { path: key, driver: disk.name, mount: `/${point}` } },
      )
    return { uploads: disk.uploads, inner }
  }

  create(key: string, attributes: DriverPut['attributes'], tags?: DriverPut['tags']): Promise<string> {
    const { uploads, inner } = this.#control(key)
    return uploads.create(inner, attributes, tags)
  }

  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    part: { body: Readable | Buffer; size: number; signal?: AbortSignal | undefined },
  ): Promise<UploadedPart> {
    const { uploads, inner } = this.#control(key)
    return uploads.uploadPart(inner, uploadId, partNumber, part)
  }

  partUrl(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string> {
    const { uploads, inner } = this.#control(key)
    return uploads.partUrl(inner, uploadId, partNumber, expiresInSeconds)
  }

  listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    const { uploads, inner } = this.#control(key)
    return uploads.listParts(inner, uploadId)
  }

  complete(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string | undefined }> {
    const { uploads, inner } = this.#control(key)
    return uploads.complete(inner, uploadId, parts)
  }

  abort(key: string, uploadId: string): Promise<void> {
    const { uploads, inner } = this.#control(key)
    return uploads.abort(inner, uploadId)
  }

  async listPending(prefix: string): Promise<PendingUpload[]> {
    const found = await Promise.all(
      this.#reach(prefix).map(async ({ disk, base, inner }) =>
        disk.uploads
          ? (await disk.uploads.listPending(inner)).map((u) => ({ ...u, key: base + u.key }))
          : ([] as PendingUpload[]),
      ),
    )
    return found.flat().sort((a, b) => a.initiated.getTime() - b.initiated.getTime())
  }
}
