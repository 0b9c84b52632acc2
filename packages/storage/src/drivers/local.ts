import { accessSync, closeSync, createReadStream, createWriteStream, fstatSync, openSync, type Stats } from 'node:fs'
import { lstat, mkdir, opendir, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { dirname, join, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListPage,
  type StorageDriver,
  type Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { listSorted } from '../listing.ts'
import { takeBytes, tooLargeToRead } from '../body.ts'
import {
  attributesOf,
  fileEtag,
  RESERVED_FOLDER,
  refuseReserved,
  sidecarOf,
  withTags,
  withVisibility,
  type Sidecar,
} from '../sidecar.ts'
import {
  descriptorPathsWork,
  FOLDER_FLAGS,
  openFd,
  READ_FLAGS,
  readExactly,
  realPathOfFd,
  writeNewFile,
} from './local-files.ts'

/** Options of the local driver (`BEAVER_STORAGE_LOCAL_*`). */
export interface LocalStorageOptions {
  /** The folder files live under; default `.data/storage` in the working directory. */
  root?: string | undefined
}

/** The kit's own folder under the root: temp files and attribute sidecars. Paths starting with it are refused. */
const RESERVED = RESERVED_FOLDER

/** Like Promise.all, but waits for every promise before rejecting (no write is left running behind a failure). */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<{
  [K in keyof T]: T[K]
}> {
  const settled = await Promise.allSettled(promises)
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { [K in keyof T]: T[K] }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}
const missing = (err: unknown): boolean => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes(code(err) ?? '')

/**
 * Files on the local file system under one root. Writes go to a temp file under
 * `<root>/.beaver/tmp` and are renamed into place, so readers see the old file or the new
 * one, never a part (not fsynced: a power cut may lose the latest write). A body put() got
 * whole (a string or bytes) is written with one open, write and close, and get() reads a file
 * with one open, fstat and read, so small files cost what node:fs itself does. Attributes that
 * differ from the defaults live in `<root>/.beaver/meta/<path>.json`. No path escapes the
 * root: the facade refuses "..", absolute paths, NUL and backslashes, and this driver refuses
 * any file or folder whose real location is outside the root. On Linux that location is the
 * one the kernel gives the open descriptor (/proc/self/fd), so the check is of the very file
 * read, with no window between check and open, and costs no extra path walk; elsewhere the
 * path is resolved with realpath first.
 */
export class LocalDisk implements StorageDriver {
  readonly name = 'local'
  readonly capabilities = { signedUrls: false, nativeCopy: false, ranges: true, multipart: false, tags: true }
  readonly root: string
  #realRoot: string | undefined
  /** Whether open descriptors can be located through /proc (decided once, with the root). */
  #descriptorPaths = false

  constructor(options: LocalStorageOptions = {}) {
    this.root = resolve(options.root ?? '.data/storage')
  }

  async #real(): Promise<string> {
    if (this.#realRoot) return this.#realRoot
    await mkdir(this.root, { recursive: true })
    const real = await realpath(this.root)
    this.#descriptorPaths = await descriptorPathsWork(real)
    this.#realRoot = real
    return real
  }

  #check(key: string): void {
    refuseReserved(key, 'local')
  }

  #escape(key: string): never {
    throw new StorageError(
      'STORAGE_PATH_ESCAPE',
      `The path ${JSON.stringify(key)} is refused: it resolves outside the disk's root (through a symlink).`,
      {
        details: { path: key },
      },
    )
  }

  async #inside(key: string, real: string): Promise<void> {
    this.#insideOf(key, real, await this.#real())
  }

  #insideOf(key: string, real: string, root: string): void {
    if (real !== root && !real.startsWith(root + sep)) this.#escape(key)
  }

  /**
   * An existing file opened for reading, checked to be inside the root; undefined when missing.
   * With descriptor paths the check is of what was opened; otherwise of the path realpath gives
   * before it is opened.
   */
  async #openExisting(key: string): Promise<number | undefined> {
    this.#check(key)
    const root = await this.#real()
    const path = this.#descriptorPaths ? join(root, key) : await this.#existing(key)
    if (path === undefined) return undefined
    let fd: number
    try {
      fd = await openFd(path, READ_FLAGS)
    } catch (err) {
      // ENXIO: a socket, which is no file, as a folder or a FIFO is not.
      if (missing(err) || code(err) === 'ELOOP' || code(err) === 'ENXIO') return undefined
      throw err
    }
    if (this.#descriptorPaths) {
      try {
        this.#insideOf(key, realPathOfFd(fd) ?? '', root)
      } catch (err) {
        closeSync(fd)
        throw err
      }
    }
    return fd
  }

  /** The file-system stat of an existing file inside the root (a file it may not read included). */
  async #statExisting(key: string): Promise<Stats | undefined> {
    let fd: number | undefined
    try {
      fd = await this.#openExisting(key)
    } catch (err) {
      if (code(err) !== 'EACCES') throw err
      const real = await this.#existing(key)
      return real === undefined ? undefined : stat(real)
    }
    if (fd === undefined) return undefined
    try {
      return fstatSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Where a folder really is: its open descriptor's path where /proc tells it, else realpath.
   * The descriptor way runs on this thread: one path walk of folders the kernel has cached,
   * cheaper than the thread pool's round trip, and it reads no file.
   */
  async #realFolder(folder: string): Promise<string> {
    if (!this.#descriptorPaths) return realpath(folder)
    const fd = openSync(folder, FOLDER_FLAGS)
    try {
      return realPathOfFd(fd) ?? ''
    } finally {
      closeSync(fd)
    }
  }

  /** The real location of an existing file, checked to be inside the root; undefined when missing. */
  async #existing(key: string): Promise<string | undefined> {
    this.#check(key)
    const root = await this.#real()
    let real: string
    try {
      real = await realpath(join(root, key))
    } catch (err) {
      if (missing(err) || code(err) === 'ELOOP') return undefined
      throw err
    }
    await this.#inside(key, real)
    return real
  }

  /** The folder a new file goes into, created, after checking its deepest existing ancestor is inside the root. */
  async #folderFor(key: string, root: string): Promise<string> {
    const folder = dirname(join(root, key))
    try {
      this.#insideOf(key, await this.#realFolder(folder), root)
      return folder
    } catch (err) {
      if (!missing(err)) throw err
    }
    let probe = dirname(folder)
    for (;;) {
      try {
        await this.#inside(key, await realpath(probe))
        break
      } catch (err) {
        if (!missing(err)) throw err
        probe = dirname(probe)
      }
    }
    await mkdir(folder, { recursive: true })
    await this.#inside(key, await realpath(folder))
    return folder
  }

  #metaPath(root: string, key: string): string {
    return join(root, RESERVED, 'meta', `${key}.json`)
  }

  #tmpReady = false

  async #tmp(root: string): Promise<string> {
    const dir = join(root, RESERVED, 'tmp')
    if (!this.#tmpReady) {
      await mkdir(dir, { recursive: true })
      this.#tmpReady = true
    }
    return join(dir, randomUUID())
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; multipart: false }> {
    this.#check(key)
    const root = await this.#real()
    const tmp = await this.#tmp(root)
    const bytes = takeBytes(input.body)
    let size = bytes?.length ?? 0
    const write = async (): Promise<void> => {
      if (bytes) {
        input.signal?.throwIfAborted()
        await writeNewFile(tmp, bytes)
        return input.signal?.throwIfAborted()
      }
      input.body.on('data', (chunk: Buffer) => (size += chunk.length))
      await pipeline(input.body, createWriteStream(tmp, { flags: 'wx' }), { signal: input.signal })
    }
    try {
      // The target folder's check (on this thread where descriptor paths work, else in the pool
      // beside the write) and the write both finish before anything commits; the sidecar changes
      // only once the whole body is in the temp file (a failed body keeps the old file's
      // attributes), and the rename commits last. Without attributes, whether an old sidecar
      // exists is asked at once, so the usual put removes nothing and waits for no removal.
      const sidecar = sidecarOf(key, input.attributes, input.tags)
      const plain = Object.keys(sidecar).length === 0
      const [folder, , stale] = await settleAll([
        this.#folderFor(key, root),
        plain ? write() : write().then(() => this.#writeSidecar(root, key, sidecar)),
        plain ? this.#hasSidecar(root, key) : Promise.resolve(false),
      ])
      if (stale) await this.#writeSidecar(root, key, {})
      await rename(tmp, join(folder, key.slice(key.lastIndexOf('/') + 1)))
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
    return { size, multipart: false }
  }

  async #writeSidecar(root: string, key: string, sidecar: Sidecar): Promise<void> {
    const path = this.#metaPath(root, key)
    if (Object.keys(sidecar).length === 0) {
      await unlink(path).catch((err: unknown) => {
        if (!missing(err)) throw err
      })
      return
    }
    await mkdir(dirname(path), { recursive: true })
    const tmp = await this.#tmp(root)
    await writeNewFile(tmp, Buffer.from(JSON.stringify(sidecar)))
    await rename(tmp, path)
  }

  /** Whether a file has a sidecar: a lookup of a path the kernel caches (a missing one too), asked on this thread. */
  async #hasSidecar(root: string, key: string): Promise<boolean> {
    try {
      accessSync(this.#metaPath(root, key))
      return true
    } catch (err) {
      if (missing(err)) return false
      throw err
    }
  }

  async #readSidecar(root: string, key: string): Promise<Sidecar> {
    try {
      return JSON.parse(await readFile(this.#metaPath(root, key), 'utf8')) as Sidecar
    } catch (err) {
      if (missing(err)) return {}
      throw err
    }
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const fd = await this.#openExisting(key)
    if (fd === undefined) return undefined
    try {
      if (!fstatSync(fd).isFile()) {
        closeSync(fd)
        return undefined
      }
    } catch (err) {
      closeSync(fd)
      throw err
    }
    // The stream owns the descriptor from here and closes it when it ends, fails or is destroyed.
    return createReadStream('', {
      fd,
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.end === undefined ? {} : { end: options.end }),
      ...(options.signal ? { signal: options.signal } : {}),
    })
  }

  /** One open, one fstat and one read of exactly the file's size (get() of a small file costs what readFile does, plus the root check). */
  async read(
    key: string,
    options: { maxBytes: number; signal?: AbortSignal | undefined },
  ): Promise<Buffer | undefined> {
    const fd = await this.#openExisting(key)
    if (fd === undefined) return undefined
    try {
      options.signal?.throwIfAborted()
      // Only a regular file is read (the open did not block on a FIFO: O_NONBLOCK).
      const s = fstatSync(fd)
      if (!s.isFile()) return undefined
      if (s.size > options.maxBytes) throw tooLargeToRead(key, options.maxBytes)
      return await readExactly(fd, s.size)
    } finally {
      closeSync(fd)
    }
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const s = await this.#statExisting(key)
    if (!s?.isFile()) return undefined
    const side = await this.#readSidecar(await this.#real(), key)
    return {
      size: s.size,
      lastModified: s.mtime,
      etag: fileEtag(s.mtimeMs, s.size),
      ...attributesOf(key, side),
      tags: { ...side.tags },
    }
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    return (await this.stat(key))?.tags
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    const root = await this.#real()
    if (!(await this.stat(key))) return false
    await this.#writeSidecar(root, key, withTags(await this.#readSidecar(root, key), tags))
    return true
  }

  async delete(key: string): Promise<boolean> {
    this.#check(key)
    const root = await this.#real()
    const path = join(root, key)
    try {
      this.#insideOf(key, await this.#realFolder(dirname(path)), root)
      const s = await lstat(path)
      if (s.isDirectory()) return false
      await unlink(path)
    } catch (err) {
      if (missing(err)) return false
      throw err
    }
    await unlink(this.#metaPath(root, key)).catch((err: unknown) => {
      if (!missing(err)) throw err
    })
    return true
  }

  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const root = await this.#real()
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    if (base) this.#check(base.slice(0, -1))
    const keys: string[] = []
    const info = new Map<string, { size: number; lastModified: Date }>()
    const walk = async (dir: string, rel: string): Promise<void> => {
      let handle
      try {
        handle = await opendir(join(root, dir))
      } catch (err) {
        if (missing(err)) return
        throw err
      }
      for await (const entry of handle) {
        const key = rel + entry.name
        if (rel === '' && entry.name === RESERVED) continue
        if (!key.startsWith(prefix) && !prefix.startsWith(key + '/')) continue
        if (entry.isDirectory()) {
          // Non-recursive listings only need to know the folder exists.
          if (!options.recursive && key.startsWith(prefix)) keys.push(`${key}/`)
          else await walk(join(dir, entry.name), `${key}/`)
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const s = await stat(join(root, dir, entry.name))
          keys.push(key)
          info.set(key, { size: s.size, lastModified: s.mtime })
        }
      }
    }
    await walk(base, base)
    return listSorted(prefix, keys, options, (k) => info.get(k) ?? { size: 0, lastModified: new Date(0) })
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    const root = await this.#real()
    if (!(await this.#existing(key))) return false
    await this.#writeSidecar(root, key, withVisibility(await this.#readSidecar(root, key), visibility))
    return true
  }

  async ready(): Promise<void> {
    const root = await this.#real()
    await mkdir(join(root, RESERVED, 'tmp'), { recursive: true })
  }
}

/** The local driver, the default: `BEAVER_STORAGE_DRIVER=local`, `BEAVER_STORAGE_LOCAL_ROOT=...`. */
export const localDriver = defineStorageDriver<LocalStorageOptions>({
  name: 'local',
  section: 'local',
  create: (options) => new LocalDisk(options),
})
