import { randomUUID } from 'node:crypto'
import { posix } from 'node:path'
import { addAbortSignal, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { importPeer } from '@beaver-kit/core'
import type * as ssh2 from 'ssh2'
import type { SFTPWrapper, Stats } from 'ssh2'
import {
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListPage,
  type StorageDriver,
  type StorageDriverContext,
  type Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { listSorted } from '../listing.ts'
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
import { call, isNoSuchFile, SftpConnection, type SftpConnectionOptions } from './sftp-connection.ts'
import { sftpReadable, sftpWritable } from './sftp-stream.ts'

/** Options of the sftp driver: the `BEAVER_STORAGE_SFTP_*` settings. */
export interface SftpStorageOptions extends SftpConnectionOptions {
  /** The folder on the server files live under (created on first write); default the login folder. */
  root?: string | undefined
}

const { dirname, join } = posix

/**
 * Files on an SFTP server (OpenSSH's sftp-server or internal-sftp, or any SFTP v3 server), over
 * one SSH connection opened on first use, reopened when it drops, with at most `concurrency`
 * operations in flight. The layout is the local disk's: writes go to `<root>/.beaver/tmp` and
 * are renamed into place with OpenSSH's posix-rename (readers see the old file or the new one),
 * attributes that differ from the defaults live in `<root>/.beaver/meta/<path>.json`, and every
 * path is resolved on the server (realpath) and refused when a symlink takes it outside the root.
 */
export class SftpDisk implements StorageDriver {
  readonly name = 'sftp'
  readonly capabilities = {
    signedUrls: false,
    nativeCopy: false,
    ranges: true,
    multipart: false,
    writable: true,
    tags: true,
  }
  readonly connection: SftpConnection
  readonly #rootOption: string
  #root: Promise<string> | undefined
  #tmpReady = false

  constructor(ssh2Module: typeof ssh2, options: SftpStorageOptions, context?: StorageDriverContext) {
    const variable = (s: string): string => context?.variable(s) ?? `BEAVER_STORAGE_${s}`
    this.connection = new SftpConnection(ssh2Module, options, variable)
    this.#rootOption = options.root ?? '.'
  }

  /** The real, absolute root on the server (created when missing), resolved once per disk. */
  #real(sftp: SFTPWrapper): Promise<string> {
    this.#root ??= (async () => {
      await this.#mkdirs(sftp, this.#rootOption)
      return call<string>((cb) => sftp.realpath(this.#rootOption, cb))
    })().catch((err: unknown) => {
      this.#root = undefined
      throw err
    })
    return this.#root
  }

  #check(key: string): void {
    refuseReserved(key, 'sftp')
  }

  async #inside(sftp: SFTPWrapper, key: string, path: string): Promise<void> {
    const root = await this.#real(sftp)
    const real = await call<string>((cb) => sftp.realpath(path, cb))
    if (real !== root && !real.startsWith(root === '/' ? '/' : `${root}/`))
      throw new StorageError(
        'STORAGE_PATH_ESCAPE',
        `The path ${JSON.stringify(key)} is refused: it resolves outside the disk's root on the server (through a symlink).`,
        { details: { path: key } },
      )
  }

  /** An existing file's path and stats (symlinks followed), checked to stay inside the root; undefined when missing. */
  async #existing(sftp: SFTPWrapper, key: string): Promise<{ path: string; stats: Stats } | undefined> {
    this.#check(key)
    const path = join(await this.#real(sftp), key)
    try {
      // OpenSSH's realpath accepts a missing last component: stat says whether it exists.
      await this.#inside(sftp, key, path)
      const stats = await call<Stats>((cb) => sftp.stat(path, cb))
      return stats.isFile() ? { path, stats } : undefined
    } catch (err) {
      if (isNoSuchFile(err)) return undefined
      throw err
    }
  }

  /** Creates path and its missing parents (SFTP's mkdir makes one level). */
  async #mkdirs(sftp: SFTPWrapper, path: string): Promise<void> {
    const missing: string[] = []
    for (let at = path; ; at = dirname(at)) {
      try {
        const s = await call<Stats>((cb) => sftp.stat(at, cb))
        if (!s.isDirectory())
          throw new StorageError('STORAGE_DRIVER', `${JSON.stringify(at)} on the sftp server is not a folder.`)
        break
      } catch (err) {
        if (!isNoSuchFile(err) || at === dirname(at)) throw err
        missing.unshift(at)
      }
    }
    for (const dir of missing)
      await call((cb) => sftp.mkdir(dir, cb)).catch(async (err: unknown) => {
        // Another writer may have made it meanwhile.
        const s = await call<Stats>((cb) => sftp.stat(dir, cb)).catch(() => undefined)
        if (!s?.isDirectory()) throw err
      })
  }

  /** The folder a new file goes into, created, after checking the folder stays inside the root. */
  async #folderFor(sftp: SFTPWrapper, key: string, root: string): Promise<string> {
    const folder = dirname(join(root, key))
    // OpenSSH's realpath accepts a missing last component, so existence is asked with stat;
    // the deepest existing ancestor is checked before anything is created under it.
    for (let probe = folder; ; probe = dirname(probe)) {
      const s = await call<Stats>((cb) => sftp.stat(probe, cb)).catch((err: unknown) => {
        if (isNoSuchFile(err)) return undefined
        throw err
      })
      if (!s) continue
      await this.#inside(sftp, key, probe)
      if (probe === folder) return folder
      break
    }
    await this.#mkdirs(sftp, folder)
    await this.#inside(sftp, key, folder)
    return folder
  }

  async #tmp(sftp: SFTPWrapper, root: string): Promise<string> {
    const dir = join(root, RESERVED_FOLDER, 'tmp')
    if (!this.#tmpReady) {
      await this.#mkdirs(sftp, dir)
      this.#tmpReady = true
    }
    return join(dir, randomUUID())
  }

  /** Renames over an existing target: OpenSSH's posix-rename, else remove then rename (not atomic). */
  async #replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    let posixRename = true
    try {
      await call((cb) => sftp.ext_openssh_rename(from, to, cb))
    } catch (err) {
      if (!/does not support/.test((err as Error).message)) throw err
      posixRename = false
    }
    if (posixRename) return
    await call((cb) => sftp.unlink(to, cb)).catch((err: unknown) => {
      if (!isNoSuchFile(err)) throw err
    })
    await call((cb) => sftp.rename(from, to, cb))
  }

  #metaPath(root: string, key: string): string {
    return join(root, RESERVED_FOLDER, 'meta', `${key}.json`)
  }

  async #writeSidecar(sftp: SFTPWrapper, root: string, key: string, sidecar: Sidecar): Promise<void> {
    const path = this.#metaPath(root, key)
    if (Object.keys(sidecar).length === 0) {
      await call((cb) => sftp.unlink(path, cb)).catch((err: unknown) => {
        if (!isNoSuchFile(err)) throw err
      })
      return
    }
    await this.#mkdirs(sftp, dirname(path))
    const tmp = await this.#tmp(sftp, root)
    await call((cb) => sftp.writeFile(tmp, JSON.stringify(sidecar), { flag: 'wx' }, cb))
    await this.#replace(sftp, tmp, path)
  }

  async #readSidecar(sftp: SFTPWrapper, root: string, key: string): Promise<Sidecar> {
    try {
      const text = await call<Buffer>((cb) => sftp.readFile(this.#metaPath(root, key), cb))
      return JSON.parse(text.toString('utf8')) as Sidecar
    } catch (err) {
      if (isNoSuchFile(err)) return {}
      throw err
    }
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; multipart: false }> {
    this.#check(key)
    // A body can be read once, so a put is never retried on a new connection.
    return this.connection.run(async (sftp) => {
      const root = await this.#real(sftp)
      const folder = await this.#folderFor(sftp, key, root)
      const target = join(folder, posix.basename(key))
      const tmp = await this.#tmp(sftp, root)
      let size = 0
      try {
        input.body.on('data', (chunk: Buffer) => (size += chunk.length))
        await pipeline(input.body, sftpWritable(sftp, tmp), { signal: input.signal })
        await this.#writeSidecar(sftp, root, key, sidecarOf(key, input.attributes, input.tags))
        await this.#replace(sftp, tmp, target)
      } catch (err) {
        input.body.destroy()
        await call((cb) => sftp.unlink(tmp, cb)).catch(() => undefined)
        throw err
      }
      return { size, multipart: false as const }
    }, false)
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    this.#check(key)
    // The stream holds its slot until it closes, so open streams count against concurrency.
    const release = await this.connection.acquire()
    try {
      const opened = await this.#openForRead(key)
      if (!opened) {
        release()
        return undefined
      }
      const stream = sftpReadable(opened.sftp, opened.handle, options, release)
      return options.signal ? addAbortSignal(options.signal, stream) : stream
    } catch (err) {
      release()
      throw err
    }
  }

  /** Opens a file for reading (the caller holds a slot); undefined when missing. */
  #openForRead(key: string): Promise<{ sftp: SFTPWrapper; handle: Buffer } | undefined> {
    return this.connection.attempt(async (sftp) => {
      const found = await this.#existing(sftp, key)
      if (!found) return undefined
      const handle = await call<Buffer>((cb) => sftp.open(found.path, 'r', cb))
      return { sftp, handle }
    }, true)
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    this.#check(key)
    return this.connection.run(async (sftp) => {
      const found = await this.#existing(sftp, key)
      if (!found) return undefined
      const s = found.stats
      const side = await this.#readSidecar(sftp, await this.#real(sftp), key)
      return {
        size: s.size,
        lastModified: new Date(s.mtime * 1000),
        etag: fileEtag(s.mtime * 1000, s.size),
        ...attributesOf(key, side),
        tags: { ...side.tags },
      }
    }, true)
  }

  async delete(key: string): Promise<boolean> {
    this.#check(key)
    return this.connection.run(async (sftp) => {
      const root = await this.#real(sftp)
      const path = join(root, key)
      try {
        await this.#inside(sftp, key, dirname(path))
        const s = await call<Stats>((cb) => sftp.lstat(path, cb))
        if (s.isDirectory()) return false
        await call((cb) => sftp.unlink(path, cb))
      } catch (err) {
        if (isNoSuchFile(err)) return false
        throw err
      }
      await call((cb) => sftp.unlink(this.#metaPath(root, key), cb)).catch((err: unknown) => {
        if (!isNoSuchFile(err)) throw err
      })
      return true
    }, true)
  }

  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    if (base) this.#check(base.slice(0, -1))
    return this.connection.run(async (sftp) => {
      const root = await this.#real(sftp)
      const keys: string[] = []
      const info = new Map<string, { size: number; lastModified: Date }>()
      const walk = async (rel: string): Promise<void> => {
        let entries
        try {
          entries = await call<ssh2.FileEntryWithStats[]>((cb) => sftp.readdir(join(root, rel), cb))
        } catch (err) {
          if (isNoSuchFile(err)) return
          throw err
        }
        for (const entry of entries) {
          const key = rel + entry.filename
          if (rel === '' && entry.filename === RESERVED_FOLDER) continue
          if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue
          // readdir reports links as links: they are not followed, as on the local disk.
          if (entry.attrs.isDirectory()) {
            if (!options.recursive && key.startsWith(prefix)) keys.push(`${key}/`)
            else await walk(`${key}/`)
          } else if (entry.attrs.isFile() && key.startsWith(prefix)) {
            keys.push(key)
            info.set(key, { size: entry.attrs.size, lastModified: new Date(entry.attrs.mtime * 1000) })
          }
        }
      }
      await walk(base)
      return listSorted(prefix, keys, options, (k) => info.get(k) ?? { size: 0, lastModified: new Date(0) })
    }, true)
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    return (await this.stat(key))?.tags
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    this.#check(key)
    return this.connection.run(async (sftp) => {
      if (!(await this.#existing(sftp, key))) return false
      const root = await this.#real(sftp)
      await this.#writeSidecar(sftp, root, key, withTags(await this.#readSidecar(sftp, root, key), tags))
      return true
    }, true)
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    this.#check(key)
    return this.connection.run(async (sftp) => {
      if (!(await this.#existing(sftp, key))) return false
      const root = await this.#real(sftp)
      await this.#writeSidecar(sftp, root, key, withVisibility(await this.#readSidecar(sftp, root, key), visibility))
      return true
    }, true)
  }

  async ready(): Promise<void> {
    await this.connection.run(async (sftp) => {
      await this.#tmp(sftp, await this.#real(sftp))
    }, true)
  }

  close(): Promise<void> {
    return this.connection.close()
  }
}

/**
 * The sftp driver: `BEAVER_STORAGE_DRIVER=sftp` with `BEAVER_STORAGE_SFTP_HOST`, `_USERNAME`,
 * `_PRIVATE_KEY` (or `_PASSWORD`) and `_HOST_FINGERPRINT`. Needs the optional package `ssh2`.
 */
export const sftpDriver = defineStorageDriver<SftpStorageOptions>({
  name: 'sftp',
  section: 'sftp',
  peers: ['ssh2'],
  async create(options, context) {
    const module = await importPeer('ssh2', () => import('ssh2'), 'the sftp storage driver')
    return new SftpDisk(module, options, context)
  },
})
