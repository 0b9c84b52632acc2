import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { resolveConfig, describeInstance, toMs } from '@beaver-kit/config'
import { throwIfAborted, traceAsync } from '@beaver-kit/core'
import { BufferedBody, checkDigest, guardBody, readAll, toReadable, type Body, type Checksum } from './body.ts'
import { channels } from './channels.ts'
import { storageSchema } from './config.ts'
import {
  DEFAULT_CONTENT_TYPE,
  type DriverPut,
  type FileAttributes,
  type FileStat,
  type ListEntry,
  type ListPage,
  type StorageDriver,
} from './driver.ts'
import { StorageError } from './errors.ts'
import { checkPath, checkPrefix } from './paths.ts'
import { storageDrivers } from './registry.ts'
import { createUrlSigner, type UrlSigner } from './signer.ts'
import { contentTypeOf, checkAttributes, checkTags } from './attributes.ts'
import { rewriteVisibility, streamCopy } from './transfer.ts'
import { createChunkedUploads } from './uploads.ts'
import type { ListOptions, PutOptions, PutResult, SignedPostOptions, SignedUrlOptions } from './options.ts'
import type { Storage, StorageOptions } from './storage-api.ts'

export type { Storage, StorageOptions } from './storage-api.ts'

/**
 * Builds a storage from options, then `BEAVER_STORAGE_*`, then defaults (the local driver
 * under `.data/storage`). Does no I/O; invalid configuration throws one ConfigError naming
 * every bad variable.
 * @example
 * await using files = createStorage({ driver: 'memory' })
 * await files.put('avatars/1.png', bytes, { contentType: 'image/png' })
 */
export function createStorage(options: StorageOptions = {}): Storage {
  const { envPrefix, env, driver: given, client, ...settings } = options
  const resolved = resolveConfig(storageSchema, {
    options: { ...settings, ...(typeof given === 'string' ? { driver: given } : {}) },
    envPrefix,
    ...(env ? { env } : {}),
  })
  const config = resolved.values
  const prefix = envPrefix === false ? 'BEAVER_' : (envPrefix ?? 'BEAVER_')
  const variable = (suffix: string): string => `${prefix}STORAGE_${suffix}`
  const namespace = config.namespace ?? ''
  const maxPath = config.maxPathBytes
  const signer: UrlSigner | undefined =
    config.signing.key && config.signing.baseUrl
      ? createUrlSigner(config.signing.key, config.signing.baseUrl)
      : undefined
  let driverName = typeof given === 'object' ? given.name : config.driver
  if (typeof given !== 'object' && !storageDrivers.has(driverName)) throw storageDrivers.unknown(driverName)

  let loading: Promise<StorageDriver> | undefined
  let closed = false
  const load = (): Promise<StorageDriver> => {
    if (closed) return Promise.reject(new StorageError('STORAGE_CLOSED', 'This storage is closed; create a new one.'))
    loading ??= (async () => {
      if (typeof given === 'object') return given
      const definition = await storageDrivers.load(config.driver)
      const section = definition.section
      const sectionValues = section ? (config as unknown as Record<string, Record<string, unknown>>)[section] : {}
      const built = await definition.create(
        { ...sectionValues, ...(client === undefined ? {} : { client }) },
        { variable },
      )
      driverName = built.name
      return built
    })()
    return loading
  }

  const key = (path: string): string => {
    checkPath(path, maxPath)
    const full = namespace ? `${namespace}/${path}` : path
    if (Buffer.byteLength(full) > maxPath) checkPath(full, maxPath)
    return full
  }
  const unkey = (full: string): string => (namespace ? full.slice(namespace.length + 1) : full)
  const op = (): { driver: string; namespace: string } => ({ driver: driverName, namespace })
  const notFound = (path: string): StorageError =>
    new StorageError('STORAGE_NOT_FOUND', `No file at ${JSON.stringify(path)}.`, { details: { path } })
  const unsupported = (path: string, what: string): StorageError =>
    new StorageError('STORAGE_UNSUPPORTED', `The ${driverName} driver has no ${what} (${JSON.stringify(path)}).`, {
      details: { path, driver: driverName },
    })
  const wrap = async <T>(path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      if ((err as { code?: unknown })?.code && String((err as { code: unknown }).code).startsWith('STORAGE_')) throw err
      throw new StorageError(
        'STORAGE_DRIVER',
        `The ${driverName} storage failed on ${JSON.stringify(path)}: ${(err as Error)?.message ?? String(err)}`,
        {
          cause: err,
          details: { path, driver: driverName },
        },
      )
    }
  }

  const attributesOf = (path: string, opts: FileAttributes): DriverPut['attributes'] => ({
    ...checkAttributes(path, opts),
    contentType: opts.contentType ?? contentTypeOf(path) ?? DEFAULT_CONTENT_TYPE,
    visibility: opts.visibility ?? config.defaultVisibility,
  })

  async function put(path: string, body: Body, opts: PutOptions = {}): Promise<PutResult> {
    const k = key(path)
    throwIfAborted(opts.signal)
    const attributes = attributesOf(path, opts)
    const tags = opts.tags === undefined ? undefined : checkTags(path, opts.tags)
    const { stream, size } = toReadable(path, body)
    const known = size ?? opts.size
    if (known !== undefined && known > config.maxFileSize) {
      stream.destroy()
      throw new StorageError(
        'STORAGE_TOO_LARGE',
        `The body of ${JSON.stringify(path)} is ${known} bytes, more than maxFileSize (${config.maxFileSize}); nothing was stored.`,
        {
          details: { path, maxBytes: config.maxFileSize },
        },
      )
    }
    // A body whole in memory is checked at once and goes to the driver as it is (a driver may
    // write its bytes in one go); any other body streams through the guard.
    let guard: Readable
    if (stream instanceof BufferedBody) {
      if (opts.checksum) checkDigest(path, opts.checksum, stream.bytes ?? Buffer.alloc(0))
      stream.onConsume(opts.onProgress)
      // An abort before any driver listens must not become an uncaught 'error' event: the
      // driver sees the destroyed body (or the signal) and rejects with the abort itself.
      stream.on('error', () => undefined)
      guard = stream
    } else {
      const checked = guardBody(path, {
        maxBytes: config.maxFileSize,
        checksum: opts.checksum,
        onProgress: opts.onProgress,
      })
      // Errors of the source reach the driver through the guard; the pipeline's own promise is
      // observed so a failed source never becomes an unhandled rejection.
      pipeline(stream, checked).catch(() => undefined)
      guard = checked
    }
    // An abort fails the body itself, so every driver stops reading and commits nothing.
    const signal = opts.signal
    const onAbort = (): void => {
      guard.destroy(
        new StorageError('STORAGE_ABORTED', `put(${JSON.stringify(path)}) was aborted; nothing was stored.`, {
          cause: signal?.reason,
          details: { path },
        }),
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    return traceAsync(channels.put, op, async () => {
      const driver = await load()
      try {
        if (tags && !driver.capabilities.tags) {
          guard.destroy()
          throw unsupported(path, 'object tags')
        }
        const result = await wrap(path, () => driver.put(k, { body: guard, size: known, attributes, signal, tags }))
        return { path, size: result.size, etag: result.etag, multipart: result.multipart }
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
    })
  }

  async function getStream(
    path: string,
    opts: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const k = key(path)
    const { start, end } = opts
    if (
      (start !== undefined && (!Number.isInteger(start) || start < 0)) ||
      (end !== undefined && (!Number.isInteger(end) || end < (start ?? 0)))
    )
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The byte range ${start ?? 0}..${end ?? ''} of ${JSON.stringify(path)} is not valid; start and end are integers, 0 <= start <= end.`,
        {
          details: { path, start, end },
        },
      )
    return traceAsync(
      channels.get,
      () => ({ ...op(), stream: true }),
      async () => {
        const driver = await load()
        const s = await wrap(path, () => driver.getStream(k, opts))
        if (!s) throw notFound(path)
        return s
      },
    )
  }

  async function get(path: string, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const k = key(path)
    return traceAsync(
      channels.get,
      () => ({ ...op(), stream: false }),
      async () => {
        const driver = await load()
        if (driver.read) {
          const bytes = await wrap(path, () => driver.read!(k, { maxBytes: config.maxReadSize, signal: opts.signal }))
          if (!bytes) throw notFound(path)
          return bytes
        }
        const s = await wrap(path, () => driver.getStream(k, opts))
        if (!s) throw notFound(path)
        return wrap(path, () => readAll(path, s, config.maxReadSize))
      },
    )
  }

  async function statOf(path: string): Promise<FileStat | undefined> {
    const k = key(path)
    return traceAsync(channels.stat, op, async () => {
      const driver = await load()
      const s = await wrap(path, () => driver.stat(k))
      if (!s) return undefined
      // Tags are part of stat() exactly where the driver declares them.
      const { tags, ...rest } = s
      return driver.capabilities.tags && tags ? { path, ...rest, tags } : { path, ...rest }
    })
  }

  async function listPage(prefix = '', opts: ListOptions = {}): Promise<ListPage> {
    const p = checkPrefix(prefix, maxPath)
    throwIfAborted(opts.signal)
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? config.listPageSize)), config.listPageSize)
    const full = namespace ? `${namespace}/${p}` : p
    return traceAsync(channels.list, op, async () => {
      const driver = await load()
      const page = await wrap(p, () =>
        driver.list(full, { recursive: opts.recursive ?? true, limit, cursor: opts.cursor }),
      )
      return { entries: page.entries.map((e) => ({ ...e, path: unkey(e.path) })), cursor: page.cursor }
    })
  }

  async function* list(prefix = '', opts: ListOptions = {}): AsyncGenerator<ListEntry> {
    let left = opts.limit ?? Number.POSITIVE_INFINITY
    let cursor = opts.cursor
    while (left > 0) {
      const page = await listPage(prefix, { ...opts, cursor, limit: Math.min(left, config.listPageSize) })
      for (const entry of page.entries) {
        yield entry
        if (--left <= 0) return
      }
      if (!page.cursor) return
      cursor = page.cursor
    }
  }

  async function copy(from: string, to: string, move = false): Promise<void> {
    const a = key(from)
    const b = key(to)
    await traceAsync(
      channels.copy,
      () => ({ ...op(), move }),
      async () => {
        const driver = await load()
        if (a === b) {
          if (!(await driver.stat(a))) throw notFound(from)
          return
        }
        const copied = driver.copy
          ? await wrap(from, () => driver.copy!(a, b))
          : await wrap(from, () => streamCopy(driver, a, driver, b))
        if (!copied) throw notFound(from)
        // The source goes only once the copy is complete: a failed copy keeps it.
        if (move) await wrap(from, () => driver.delete(a))
      },
    )
  }

  const storage: Storage = {
    get driver() {
      return driverName
    },
    put,
    get,
    getText: async (path, opts) => (await get(path, opts)).toString('utf8'),
    async getJson<T>(path: string, opts?: { signal?: AbortSignal }): Promise<T> {
      const text = (await get(path, opts)).toString('utf8')
      try {
        return JSON.parse(text) as T
      } catch (err) {
        throw new StorageError(
          'STORAGE_DRIVER',
          `${JSON.stringify(path)} is not valid JSON: ${(err as Error).message}`,
          { cause: err, details: { path } },
        )
      }
    },
    getStream,
    async stat(path) {
      const s = await statOf(path)
      if (!s) throw notFound(path)
      return s
    },
    exists: async (path) => (await statOf(path)) !== undefined,
    async getTags(path) {
      const k = key(path)
      return traceAsync(
        channels.tags,
        () => ({ ...op(), write: false }),
        async () => {
          const driver = await load()
          if (!driver.capabilities.tags || !driver.getTags) throw unsupported(path, 'object tags')
          const tags = await wrap(path, () => driver.getTags!(k))
          if (!tags) throw notFound(path)
          return tags
        },
      )
    },
    async setTags(path, tags) {
      const k = key(path)
      const clean = checkTags(path, tags, 'setTags')
      await traceAsync(
        channels.tags,
        () => ({ ...op(), write: true }),
        async () => {
          const driver = await load()
          if (!driver.capabilities.tags || !driver.setTags) throw unsupported(path, 'object tags')
          if (!(await wrap(path, () => driver.setTags!(k, clean)))) throw notFound(path)
        },
      )
    },
    async delete(path) {
      const k = key(path)
      return traceAsync(
        channels.delete,
        () => ({ ...op(), count: 1 }),
        async () => {
          const driver = await load()
          return wrap(path, () => driver.delete(k))
        },
      )
    },
    async deleteMany(paths) {
      const keys = paths.map((p) => key(p))
      return traceAsync(
        channels.delete,
        () => ({ ...op(), count: keys.length }),
        async () => {
          const driver = await load()
          let removed = 0
          for (let i = 0; i < keys.length; i++) if (await wrap(paths[i]!, () => driver.delete(keys[i]!))) removed++
          return removed
        },
      )
    },
    list,
    listPage,
    copy: (from, to) => copy(from, to),
    move: (from, to) => copy(from, to, true),
    async setVisibility(path, visibility) {
      const k = key(path)
      const driver = await load()
      if (!(await wrap(path, () => rewriteVisibility(driver, k, visibility)))) throw notFound(path)
    },
    url(path) {
      const k = key(path)
      if (!config.publicUrl)
        throw new StorageError(
          'STORAGE_UNSUPPORTED',
          `url(${JSON.stringify(path)}) needs a public base URL: set ${variable('PUBLIC_URL')}.`,
          {
            details: { path, setting: variable('PUBLIC_URL') },
          },
        )
      return new URL(
        k.split('/').map(encodeURIComponent).join('/'),
        config.publicUrl.endsWith('/') ? config.publicUrl : `${config.publicUrl}/`,
      ).href
    },
    async signedUrl(path, opts = {}) {
      const k = key(path)
      const method = opts.method ?? 'GET'
      const ms = opts.expiresIn === undefined ? config.signing.expiresIn : toMs(opts.expiresIn)
      const driver = await load()
      // A driver may presign some paths and not others (mounts): undefined means the kit signs it.
      const presigned =
        driver.capabilities.signedUrls && driver.signedUrl
          ? await wrap(path, () =>
              driver.signedUrl!(k, {
                method,
                expiresInSeconds: Math.max(1, Math.round(ms / 1000)),
                contentType: opts.contentType,
              }),
            )
          : undefined
      if (presigned !== undefined) return presigned
      if (!signer)
        throw new StorageError(
          'STORAGE_UNSUPPORTED',
          `The ${driverName} driver cannot presign URLs, so the kit signs them: set ${variable('SIGNING_KEY')} (32+ characters) and ${variable('SIGNING_BASE_URL')} (where handleSignedRequest() is mounted).`,
          { details: { path, settings: [variable('SIGNING_KEY'), variable('SIGNING_BASE_URL')] } },
        )
      return signer.sign(k, method, Date.now() + ms, opts.contentType)
    },
    async signedPost(path, opts = {}) {
      const k = key(path)
      const { expiresIn, maxSize, ...attributes } = opts
      const driver = await load()
      if (!driver.signedPost)
        throw new StorageError(
          'STORAGE_UNSUPPORTED',
          `The ${driverName} driver has no POST policies; use signedUrl(path, { method: 'PUT' }).`,
          {
            details: { path, driver: driverName },
          },
        )
      const ms = expiresIn === undefined ? config.signing.expiresIn : toMs(expiresIn)
      const maxBytes = Math.min(maxSize ?? config.maxFileSize, config.maxFileSize)
      const options = {
        expiresInSeconds: Math.max(1, Math.round(ms / 1000)),
        maxBytes,
        attributes: attributesOf(path, attributes),
      }
      return wrap(path, () => driver.signedPost!(k, options))
    },
    uploads: createChunkedUploads({
      key,
      unkey,
      namespace,
      maxPathBytes: maxPath,
      maxPartBytes: config.maxReadSize,
      expiresInMs: config.signing.expiresIn,
      load,
      attributes: attributesOf,
      op,
    }),
    async handleSignedRequest(request) {
      const { handleSigned } = await import('./handler.ts')
      return handleSigned(request, { signer, unkey, namespace, storage })
    },
    ready: (opts) =>
      traceAsync(channels.ready, op, async () => {
        const driver = await load()
        await driver.ready?.(opts?.signal)
      }),
    describe: () =>
      describeInstance('storage', envPrefix, resolved.entries, {
        driver: driverName,
        namespace: namespace || undefined,
      }),
    async close() {
      if (closed) return
      closed = true
      const driver = await loading?.catch(() => undefined)
      if (driver && driver !== given) await driver.close?.()
    },
    [Symbol.asyncDispose]: () => storage.close(),
  }
  return storage
}

export type { Body, Checksum }
export type { ListOptions, PutOptions, PutResult, SignedPostOptions, SignedUrlOptions }
