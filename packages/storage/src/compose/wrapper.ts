import type { Readable } from 'node:stream'
import type { DriverPut, FileStat, ListPage, StorageCapabilities, StorageDriver, Visibility } from '../driver.ts'
import { rewriteVisibility, streamCopy } from '../transfer.ts'

type ListOptions = { recursive: boolean; limit: number; cursor?: string | undefined }
type SignOptions = { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined }

/**
 * The base of every decorator: a built disk wrapped so that each primitive goes to it unless
 * the decorator overrides it. Copy without a native copy underneath, and visibility without a
 * setVisibility, go through the decorator's own put/getStream, so a decorator that transforms
 * the bytes sees every write. Closing the decorator closes the disk it wraps.
 */
export abstract class DiskWrapper implements StorageDriver {
  readonly name: string
  readonly capabilities: StorageCapabilities
  protected readonly disk: StorageDriver

  constructor(disk: StorageDriver, kind: string, capabilities: Partial<StorageCapabilities> = {}) {
    this.disk = disk
    this.name = `${kind}(${disk.name})`
    this.capabilities = { ...disk.capabilities, ...capabilities }
  }

  put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    return this.disk.put(key, input)
  }

  getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    return this.disk.getStream(key, options)
  }

  stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    return this.disk.stat(key)
  }

  delete(key: string): Promise<boolean> {
    return this.disk.delete(key)
  }

  list(prefix: string, options: ListOptions): Promise<ListPage> {
    return this.disk.list(prefix, options)
  }

  copy(from: string, to: string): Promise<boolean> {
    if (this.capabilities.nativeCopy && this.disk.copy) return this.disk.copy(from, to)
    return streamCopy(this, from, this, to)
  }

  async signedUrl(key: string, options: SignOptions): Promise<string | undefined> {
    if (!this.capabilities.signedUrls || !this.disk.signedUrl) return undefined
    return this.disk.signedUrl(key, options)
  }

  setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    return rewriteVisibility(this.disk, key, visibility)
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    return this.disk.getTags?.(key)
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    return (await this.disk.setTags?.(key, tags)) ?? false
  }

  async ready(signal?: AbortSignal): Promise<void> {
    await this.disk.ready?.(signal)
  }

  async close(): Promise<void> {
    await this.disk.close?.()
  }
}
