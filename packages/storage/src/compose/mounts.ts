import type { Readable } from 'node:stream'
import type {
  DriverPut,
  FileStat,
  ListEntry,
  ListPage,
  StorageCapabilities,
  StorageDriver,
  Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { compareKeys } from '../listing.ts'
import { checkPath } from '../paths.ts'
import { rewriteVisibility, streamCopy } from '../transfer.ts'
import { MountUploads } from './mount-uploads.ts'

/** Mount points ("/", "/avatars", "media/tmp") and the built disk behind each. */
export type MountTable = Readonly<Record<string, StorageDriver>>

interface Mount {
  /** The mount point without slashes ("" for the root). */
  point: string
  /** What keys of this mount start with: "avatars/", or "" for the root. */
  base: string
  disk: StorageDriver
}

type ListOptions = { recursive: boolean; limit: number; cursor?: string | undefined }

function normalise(point: string): string {
  const trimmed = point.replace(/^\/+|\/+$/g, '')
  if (trimmed !== '') checkPath(trimmed, 1024)
  return trimmed
}

/**
 * Several built disks behaving as one: `/avatars` on S3, `/tmp` on a local folder, the rest on
 * the root mount. A path goes to the deepest mount point it is under, with that prefix taken
 * off. Copy and move across mounts stream the bytes (a move deletes the source only once the
 * copy is complete); listings merge every mount under the prefix in byte order, and list a
 * mount point as a folder. Closing the mounts closes every mounted disk.
 * @example createStorage({ driver: mountDisks({ '/': new LocalDisk({ root }), '/avatars': s3 }) })
 */
export class MountDisk implements StorageDriver {
  readonly name = 'mounts'
  readonly capabilities: StorageCapabilities
  /** Deepest first, so the first match is the one a path belongs to. */
  readonly #mounts: Mount[]
  /** Multipart control routed by path; present when some mounted disk has it. */
  readonly uploads: MountUploads | undefined

  constructor(table: MountTable) {
    const seen = new Set<string>()
    this.#mounts = Object.entries(table)
      .map(([point, disk]) => {
        const clean = normalise(point)
        if (seen.has(clean))
          throw new StorageError(
            'STORAGE_OPTIONS_INVALID',
            `The mount point ${JSON.stringify(point)} is given twice.`,
            {
              details: { mount: point },
            },
          )
        seen.add(clean)
        return { point: clean, base: clean === '' ? '' : `${clean}/`, disk }
      })
      .sort((a, b) => b.point.length - a.point.length)
    if (this.#mounts.length === 0)
      throw new StorageError('STORAGE_OPTIONS_INVALID', 'mountDisks() needs at least one mount, e.g. { "/": disk }.')
    const disks = this.#mounts.map((m) => m.disk.capabilities)
    this.capabilities = {
      // Paths on a mount that cannot presign are signed by the kit (signedUrl() answers undefined).
      signedUrls: disks.some((c) => c.signedUrls),
      nativeCopy: true,
      ranges: disks.every((c) => c.ranges),
      multipart: disks.some((c) => c.multipart),
      tags: disks.some((c) => c.tags === true),
    }
    this.uploads = this.#mounts.some((m) => m.disk.uploads)
      ? new MountUploads(
          (key) => {
            const { mount, inner } = this.#route(key)
            return { disk: mount.disk, point: mount.point, base: mount.base, inner }
          },
          (prefix) => this.#reach(prefix),
        )
      : undefined
  }

  /**
   * Every mount a prefix reaches, with the prefix on that disk: the mount holding the prefix,
   * and each mount whose point lies under it (asked for everything).
   */
  #reach(prefix: string): { disk: StorageDriver; point: string; base: string; inner: string }[] {
    const owner = this.#mounts.find((m) => m.base === '' || prefix.startsWith(m.base))
    const below = this.#mounts.filter(
      (m) => m !== owner && m.base.startsWith(prefix) && (!owner || m.base.startsWith(owner.base)),
    )
    return [
      ...(owner ? [{ ...owner, inner: prefix.slice(owner.base.length) }] : []),
      ...below.map((m) => ({ ...m, inner: '' })),
    ]
  }

  /** The mount a key belongs to and the key on that disk. */
  #route(key: string): { mount: Mount; inner: string } {
    for (const mount of this.#mounts) {
      if (key === mount.point)
        throw new StorageError(
          'STORAGE_NOT_MOUNTED',
          `The path ${JSON.stringify(key)} is a mount point, not a file; put files under it.`,
          { details: { path: key } },
        )
      if (key.startsWith(mount.base)) return { mount, inner: key.slice(mount.base.length) }
    }
    throw new StorageError(
      'STORAGE_NOT_MOUNTED',
      `No disk is mounted for ${JSON.stringify(key)}; mount one at "/" or at one of its folders.`,
      { details: { path: key, mounts: this.#mounts.map((m) => `/${m.point}`) } },
    )
  }

  async put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    const { mount, inner } = this.#route(key)
    if (input.tags && !mount.disk.capabilities.tags) {
      input.body.destroy()
      throw this.#noTags(key, mount)
    }
    return mount.disk.put(inner, input)
  }

  #noTags(key: string, mount: Mount): StorageError {
    return new StorageError(
      'STORAGE_UNSUPPORTED',
      `The ${mount.disk.name} disk mounted at "/${mount.point}" has no object tags (${JSON.stringify(key)}).`,
      { details: { path: key, driver: mount.disk.name, mount: `/${mount.point}` } },
    )
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    const { mount, inner } = this.#route(key)
    if (!mount.disk.capabilities.tags || !mount.disk.getTags) throw this.#noTags(key, mount)
    return mount.disk.getTags(inner)
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    const { mount, inner } = this.#route(key)
    if (!mount.disk.capabilities.tags || !mount.disk.setTags) throw this.#noTags(key, mount)
    return mount.disk.setTags(inner, tags)
  }

  getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const { mount, inner } = this.#route(key)
    return mount.disk.getStream(inner, options)
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const { mount, inner } = this.#route(key)
    const stat = await mount.disk.stat(inner)
    if (!stat || mount.disk.capabilities.tags) return stat
    // Tags are in stat() exactly where the disk holding the file has them.
    const { tags: _none, ...rest } = stat
    return rest
  }

  delete(key: string): Promise<boolean> {
    const { mount, inner } = this.#route(key)
    return mount.disk.delete(inner)
  }

  /** Native copy within one mount where its disk has one; otherwise (and across mounts) streamed. */
  async copy(from: string, to: string): Promise<boolean> {
    const source = this.#route(from)
    const target = this.#route(to)
    if (source.mount === target.mount && source.mount.disk.copy)
      return source.mount.disk.copy(source.inner, target.inner)
    return streamCopy(source.mount.disk, source.inner, target.mount.disk, target.inner)
  }

  async signedUrl(
    key: string,
    options: { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined },
  ): Promise<string | undefined> {
    const { mount, inner } = this.#route(key)
    if (!mount.disk.capabilities.signedUrls || !mount.disk.signedUrl) return undefined
    return mount.disk.signedUrl(inner, options)
  }

  setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    const { mount, inner } = this.#route(key)
    return rewriteVisibility(mount.disk, inner, visibility)
  }

  /**
   * One page over every mount the prefix reaches. Each round asks each mount for a page after
   * the cursor; what is certain is everything up to the smallest last key of the mounts that
   * have more, so the page is cut there and, when that left it short, another round follows.
   */
  async list(prefix: string, options: ListOptions): Promise<ListPage> {
    const taken: ListEntry[] = []
    let after = options.cursor
    for (;;) {
      const need = options.limit - taken.length
      const round = await this.#round(prefix, { ...options, limit: need, cursor: after })
      taken.push(...round.entries.slice(0, need))
      const more = round.entries.length > need || round.bound !== undefined
      if (taken.length >= options.limit || round.bound === undefined)
        return { entries: taken, cursor: more && taken.length > 0 ? taken[taken.length - 1]!.path : undefined }
      after = round.bound
    }
  }

  async #round(prefix: string, options: ListOptions): Promise<{ entries: ListEntry[]; bound: string | undefined }> {
    const { cursor } = options
    // The mount that holds the prefix, and every mount whose point lies under the prefix.
    const owner = this.#mounts.find((m) => m.base === '' || prefix.startsWith(m.base))
    const below = this.#mounts.filter(
      (m) => m !== owner && m.base.startsWith(prefix) && (!owner || m.base.startsWith(owner.base)),
    )
    const found = new Map<string, ListEntry>()
    let bound: string | undefined
    // A disk's own files under a deeper mount point are hidden by that mount (its folder stays).
    const shadowed = (path: string, from: Mount): boolean =>
      this.#mounts.some(
        (m) =>
          m.base.length > from.base.length &&
          m.base.startsWith(from.base) &&
          path.startsWith(m.base) &&
          path !== m.base,
      )
    const add = (entry: ListEntry, from: Mount): void => {
      if (cursor !== undefined && compareKeys(entry.path, cursor) <= 0) return
      if (!shadowed(entry.path, from)) found.set(entry.path, entry)
    }
    const ask = async (mount: Mount, inner: string): Promise<void> => {
      let innerCursor: string | undefined
      if (cursor !== undefined) {
        if (cursor.startsWith(mount.base)) innerCursor = cursor.slice(mount.base.length)
        else if (compareKeys(cursor, mount.base) > 0) return
      }
      const page = await mount.disk.list(inner, { ...options, cursor: innerCursor })
      for (const entry of page.entries) add({ ...entry, path: mount.base + entry.path }, mount)
      if (page.cursor !== undefined) {
        const last = mount.base + page.cursor
        if (bound === undefined || compareKeys(last, bound) < 0) bound = last
      }
    }
    const asks: Promise<void>[] = []
    if (owner) asks.push(ask(owner, prefix.slice(owner.base.length)))
    for (const mount of below) {
      if (options.recursive) asks.push(ask(mount, ''))
      else {
        // One level down from the prefix: the mount point, or the folder that leads to it.
        const rest = mount.base.slice(prefix.length)
        const folder = prefix + rest.slice(0, rest.indexOf('/') + 1)
        if (cursor === undefined || compareKeys(folder, cursor) > 0) found.set(folder, { type: 'folder', path: folder })
      }
    }
    await Promise.all(asks)
    const entries = [...found.values()]
      .filter((e) => bound === undefined || compareKeys(e.path, bound) <= 0)
      .sort((a, b) => compareKeys(a.path, b.path))
    return { entries, bound }
  }

  async ready(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#mounts.map(async (m) => m.disk.ready?.(signal)))
  }

  async close(): Promise<void> {
    await Promise.all(this.#mounts.map(async (m) => m.disk.close?.()))
  }
}

/**
 * A disk made of built disks mounted at paths; give it to createStorage as the driver.
 * @example const files = createStorage({ driver: mountDisks({ '/': local, '/avatars': s3 }) })
 */
export function mountDisks(table: MountTable): MountDisk {
  return new MountDisk(table)
}
