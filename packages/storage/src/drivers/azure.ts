import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { importPeer } from '@beaver-kit/core'
import type * as azureSdk from '@azure/storage-blob'
import type { BlobServiceClient, ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import {
  DEFAULT_CONTENT_TYPE,
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListEntry,
  type ListPage,
  type StorageDriver,
  type StorageDriverContext,
  type Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { compareKeys } from '../listing.ts'
import { fromStoredMetadata, toStoredMetadata } from '../stored-metadata.ts'
import { orIfMissing } from '../missing.ts'
import { stageInBlocks } from '../staged-upload.ts'

/** Options of the azure driver: the `BEAVER_STORAGE_AZURE_*` settings, or a client you own. */
export interface AzureStorageOptions {
  container?: string | undefined
  /** A full connection string (`DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...`). */
  connectionString?: string | undefined
  accountName?: string | undefined
  accountKey?: string | undefined
  /** Blob service URL; default `https://<accountName>.blob.core.windows.net`. */
  endpoint?: string | undefined
  /** Block size of staged uploads; bodies up to one block go up in one Put Blob. Default 4 MiB. */
  blockSize?: number | undefined
  /** Blocks staged at once per upload; default 4. Memory held is about blockSize x (concurrency + 1). */
  concurrency?: number | undefined
  /** A client you own (reused, never closed); SAS URLs need it to hold a shared key credential. */
  client?: BlobServiceClient | undefined
}

type AzureModule = typeof azureSdk

const isMissing = (err: unknown): boolean => (err as { statusCode?: number } | null)?.statusCode === 404

/**
 * Azure Blob Storage block blobs. A body that fits in one block is one Put Blob; a larger one is
 * staged in blocks (Put Block, `concurrency` at once) and committed with Put Block List, which
 * carries every attribute, so a file reads back the same whichever way it went up. A failed or
 * aborted body never commits: its staged blocks stay uncommitted (Azure discards them after
 * a week) and no blob appears. Visibility travels in metadata (Azure's public access is per
 * container).
 */
export class AzureDisk implements StorageDriver {
  readonly name = 'azure'
  readonly capabilities = { signedUrls: true, nativeCopy: true, ranges: true, multipart: true, tags: true }
  readonly container: ContainerClient
  readonly #sdk: AzureModule
  readonly #service: BlobServiceClient
  readonly #blockSize: number
  readonly #concurrency: number

  constructor(sdk: AzureModule, options: AzureStorageOptions, context?: StorageDriverContext) {
    const variable = (s: string): string => context?.variable(s) ?? `BEAVER_STORAGE_${s}`
    const missing = (setting: string, why: string): never => {
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The azure storage driver needs ${why}: set ${variable(setting)}.`,
        {
          details: { setting: variable(setting) },
        },
      )
    }
    if (!options.container) missing('AZURE_CONTAINER', 'a container')
    this.#sdk = sdk
    this.#blockSize = options.blockSize ?? 4 * 1024 * 1024
    this.#concurrency = options.concurrency ?? 4
    if (options.client) this.#service = options.client
    else if (options.connectionString)
      this.#service = sdk.BlobServiceClient.fromConnectionString(options.connectionString)
    else {
      if (!options.accountName)
        missing('AZURE_CONNECTION_STRING', `credentials (or ${variable('AZURE_ACCOUNT_NAME')} and its key)`)
      if (!options.accountKey) missing('AZURE_ACCOUNT_KEY', `the key of account ${options.accountName}`)
      const credential = new sdk.StorageSharedKeyCredential(options.accountName!, options.accountKey!)
      this.#service = new sdk.BlobServiceClient(
        options.endpoint ?? `https://${options.accountName}.blob.core.windows.net`,
        credential,
      )
    }
    this.container = this.#service.getContainerClient(options.container!)
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; etag?: string | undefined; multipart: boolean }> {
    const { contentType, cacheControl, contentDisposition, metadata, visibility } = input.attributes
    const blob = this.container.getBlockBlobClient(key)
    const abortSignal = input.signal
    // The same headers and metadata go on Put Blob and on Put Block List (Azure keeps what the
    // commit carries), so single and staged uploads read back alike.
    const attributes = {
      blobHTTPHeaders: {
        blobContentType: contentType,
        ...(cacheControl === undefined ? {} : { blobCacheControl: cacheControl }),
        ...(contentDisposition === undefined ? {} : { blobContentDisposition: contentDisposition }),
      },
      metadata: toStoredMetadata(metadata, visibility),
      // Blob index tags go with the same request that creates the blob (Put Blob or Put Block List).
      ...(input.tags && Object.keys(input.tags).length > 0 ? { tags: { ...input.tags } } : {}),
      ...(abortSignal ? { abortSignal } : {}),
    }
    // Block ids must have one length within a blob; a random upload id keeps concurrent uploads apart.
    const upload = randomBytes(6).toString('hex')
    const blockId = (index: number): string =>
      Buffer.from(`${upload}-${String(index).padStart(6, '0')}`).toString('base64')
    const result = await stageInBlocks(input.body, {
      blockSize: this.#blockSize,
      concurrency: this.#concurrency,
      stage: async (index, block) => {
        await blob.stageBlock(blockId(index), block, block.length, abortSignal ? { abortSignal } : {})
      },
    })
    if (result.staged === 0) {
      const out = await blob.upload(result.last, result.last.length, attributes)
      return { size: result.size, etag: out.etag, multipart: false }
    }
    await blob.stageBlock(blockId(result.staged), result.last, result.last.length, abortSignal ? { abortSignal } : {})
    const ids = Array.from({ length: result.staged + 1 }, (_, i) => blockId(i))
    const out = await blob.commitBlockList(ids, attributes)
    return { size: result.size, etag: out.etag, multipart: true }
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const { start, end } = options
    const offset = start ?? 0
    const count = end === undefined ? undefined : end - offset + 1
    const blob = this.container.getBlobClient(key)
    const signal = options.signal ? { abortSignal: options.signal } : {}
    const out = await orIfMissing(() => blob.download(offset, count, signal), undefined, isMissing)
    if (!out) return undefined
    const body = out.readableStreamBody
    return body ? Readable.from(body as AsyncIterable<Buffer>) : Readable.from([])
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const p = await orIfMissing(() => this.container.getBlobClient(key).getProperties(), undefined, isMissing)
    if (!p) return undefined
    const { metadata, visibility } = fromStoredMetadata(p.metadata)
    // The properties say how many index tags there are: the tags cost a request only then.
    const tags = p.tagCount ? await this.getTags(key) : {}
    if (!tags) return undefined
    return {
      size: p.contentLength ?? 0,
      lastModified: p.lastModified ?? new Date(0),
      etag: p.etag,
      contentType: p.contentType ?? DEFAULT_CONTENT_TYPE,
      cacheControl: p.cacheControl,
      contentDisposition: p.contentDisposition,
      metadata,
      visibility,
      tags,
    }
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    const out = await orIfMissing(() => this.container.getBlobClient(key).getTags(), undefined, isMissing)
    return out && { ...out.tags }
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    return orIfMissing(
      async () => (await this.container.getBlobClient(key).setTags({ ...tags }), true),
      false,
      isMissing,
    )
  }

  async delete(key: string): Promise<boolean> {
    return (await this.container.getBlobClient(key).deleteIfExists()).succeeded
  }

  /** The cursor is Azure's continuation marker, handed back as it came. */
  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const pageOptions = { maxPageSize: options.limit, ...(options.cursor ? { continuationToken: options.cursor } : {}) }
    const entries: ListEntry[] = []
    let next: string | undefined
    const file = (b: azureSdk.BlobItem): ListEntry => ({
      type: 'file',
      path: b.name,
      size: b.properties.contentLength ?? 0,
      lastModified: b.properties.lastModified,
    })
    if (options.recursive) {
      for await (const page of this.container.listBlobsFlat({ prefix }).byPage(pageOptions)) {
        entries.push(...page.segment.blobItems.map(file))
        next = page.continuationToken
        break
      }
    } else {
      for await (const page of this.container.listBlobsByHierarchy('/', { prefix }).byPage(pageOptions)) {
        entries.push(...page.segment.blobItems.map(file))
        for (const p of page.segment.blobPrefixes ?? []) entries.push({ type: 'folder', path: p.name })
        next = page.continuationToken
        break
      }
    }
    entries.sort((a, b) => compareKeys(a.path, b.path))
    return { entries, cursor: next ? next : undefined }
  }

  async copy(from: string, to: string): Promise<boolean> {
    const source = this.container.getBlobClient(from)
    const target = this.container.getBlobClient(to)
    // Copy Blob does not carry index tags over by itself: they are read and given to the copy.
    const tags = await this.getTags(from)
    if (!tags) return false
    const options = Object.keys(tags).length > 0 ? { tags } : {}
    return orIfMissing(
      async () => (await (await target.beginCopyFromURL(source.url, options)).pollUntilDone(), true),
      false,
      isMissing,
    )
  }

  async signedUrl(
    key: string,
    options: { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined },
  ): Promise<string> {
    const credential = this.#service.credential
    if (!(credential instanceof this.#sdk.StorageSharedKeyCredential))
      throw new StorageError(
        'STORAGE_UNSUPPORTED',
        'The azure storage driver signs URLs with the account key; this client has no shared key credential.',
      )
    const blob = this.container.getBlobClient(key)
    const sas = this.#sdk.generateBlobSASQueryParameters(
      {
        containerName: this.container.containerName,
        blobName: key,
        permissions: this.#sdk.BlobSASPermissions.parse(options.method === 'PUT' ? 'cw' : 'r'),
        startsOn: new Date(Date.now() - 60_000),
        expiresOn: new Date(Date.now() + options.expiresInSeconds * 1000),
        protocol: blob.url.startsWith('https:') ? this.#sdk.SASProtocol.Https : this.#sdk.SASProtocol.HttpsAndHttp,
      },
      credential as StorageSharedKeyCredential,
    )
    return `${blob.url}?${sas.toString()}`
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    const blob = this.container.getBlobClient(key)
    const p = await orIfMissing(() => blob.getProperties(), undefined, isMissing)
    if (!p) return false
    const stored = toStoredMetadata(fromStoredMetadata(p.metadata).metadata, visibility)
    // Only if the blob is unchanged since it was read, so a concurrent put keeps its metadata.
    await blob.setMetadata(stored, { conditions: { ifMatch: p.etag } })
    return true
  }

  async ready(signal?: AbortSignal): Promise<void> {
    await this.container.getProperties(signal ? { abortSignal: signal } : {})
  }
}

/** The azure driver: `BEAVER_STORAGE_DRIVER=azure` with `BEAVER_STORAGE_AZURE_CONTAINER` and credentials. */
export const azureDriver = defineStorageDriver<AzureStorageOptions>({
  name: 'azure',
  section: 'azure',
  peers: ['@azure/storage-blob'],
  async create(options, context) {
    const sdk = await importPeer('@azure/storage-blob', () => import('@azure/storage-blob'), 'the azure storage driver')
    return new AzureDisk(sdk, options, context)
  },
})
