import { defineDriverRegistry } from '@beaver-kit/core'
import type { StorageDriverDefinition } from './driver.ts'
import { StorageError, type StorageErrorCode } from './errors.ts'
import { memoryDriver } from './drivers/memory.ts'

// Built-ins that need a peer load lazily, so the AWS SDK is imported only by the process that chose s3.
const drivers = defineDriverRegistry<StorageDriverDefinition>({
  kind: 'storage',
  setting: 'BEAVER_STORAGE_DRIVER',
  registerName: 'registerStorageDriver',
  builtins: {
    memory: memoryDriver as StorageDriverDefinition,
    local: () => import('./drivers/local.ts').then((m) => m.localDriver as StorageDriverDefinition),
    s3: () => import('./drivers/s3.ts').then((m) => m.s3Driver as StorageDriverDefinition),
    azure: () => import('./drivers/azure.ts').then((m) => m.azureDriver as StorageDriverDefinition),
    sftp: () => import('./drivers/sftp.ts').then((m) => m.sftpDriver as StorageDriverDefinition),
    zip: () => import('./drivers/zip.ts').then((m) => m.zipDriver as StorageDriverDefinition),
    gcs: () => import('./drivers/gcs.ts').then((m) => m.gcsDriver as StorageDriverDefinition),
  },
  error: (code, message, details) => new StorageError(`STORAGE_${code}` as StorageErrorCode, message, { details }),
})

/** The storage's driver table (internal: the facade loads definitions through it). */
export const storageDrivers = drivers

/**
 * Adds a driver under a name, so `BEAVER_STORAGE_DRIVER=<name>` picks it. Pass the
 * definition, or a function that imports it lazily. A registered name beats a built-in one.
 * @example registerStorageDriver('gcs', () => import('./gcs.ts').then((m) => m.gcsDriver))
 */
export function registerStorageDriver<O>(
  name: string,
  definition: StorageDriverDefinition<O> | (() => Promise<StorageDriverDefinition<O>>),
): void {
  drivers.register(name, definition as StorageDriverDefinition | (() => Promise<StorageDriverDefinition>))
}

/** Every driver name that can be chosen right now. */
export function storageDriverNames(): string[] {
  return drivers.names()
}
