import type { DriverPut, StorageDriver } from '../driver.ts'
import { StorageError } from '../errors.ts'
import { DiskWrapper } from './wrapper.ts'

function refuse(operation: string, key: string): never {
  throw new StorageError(
    'STORAGE_READ_ONLY',
    `${operation}(${JSON.stringify(key)}) was refused: this disk is read-only.`,
    { details: { path: key, operation } },
  )
}

/**
 * A built disk that can be read but not changed: put, delete, copy, move, visibility, tags and
 * upload URLs fail with STORAGE_READ_ONLY, before anything reaches the disk.
 */
class ReadOnlyDisk extends DiskWrapper {
  constructor(disk: StorageDriver) {
    // Every signed URL asks this disk first, so an upload URL is refused even where the kit signs.
    super(disk, 'read-only', { signedUrls: true, writable: false })
  }

  override async put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    input.body.destroy()
    return refuse('put', key)
  }

  override async delete(key: string): Promise<boolean> {
    return refuse('delete', key)
  }

  override async copy(_from: string, to: string): Promise<boolean> {
    return refuse('copy', to)
  }

  override async setVisibility(key: string): Promise<boolean> {
    return refuse('setVisibility', key)
  }

  override async setTags(key: string): Promise<boolean> {
    return refuse('setTags', key)
  }

  override async signedUrl(...[key, options]: Parameters<DiskWrapper['signedUrl']>): Promise<string | undefined> {
    if (options.method !== 'GET') refuse('signedUrl', key)
    return this.disk.capabilities.signedUrls ? this.disk.signedUrl?.(key, options) : undefined
  }
}

/**
 * Wraps a built disk so nothing can change it (a shipped assets folder, a mounted archive).
 * @example createStorage({ driver: readOnly(new LocalDisk({ root: 'public' })) })
 */
export function readOnly(disk: StorageDriver): StorageDriver {
  return new ReadOnlyDisk(disk)
}
