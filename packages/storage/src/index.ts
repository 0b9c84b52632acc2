export { createStorage } from './storage.ts'
export type {
  Storage,
  StorageOptions,
  PutOptions,
  PutResult,
  ListOptions,
  SignedUrlOptions,
  SignedPostOptions,
  Body,
  Checksum,
} from './storage.ts'
export type { ChunkedUpload, ChunkedUploads, PendingChunkedUpload } from './uploads.ts'
export { storage, initStorage, resetStorage, withPrefix } from './default.ts'
export { StorageError, isStorageError } from './errors.ts'
export type { StorageErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { registerStorageDriver, storageDriverNames } from './registry.ts'
export { defineStorageDriver } from './driver.ts'
export type {
  FileAttributes,
  FileStat,
  ListEntry,
  ListPage,
  StorageCapabilities,
  StorageDriver,
  StorageDriverContext,
  StorageDriverDefinition,
  DriverPut,
  DriverUploads,
  PendingUpload,
  SignedPost,
  UploadedPart,
  Visibility,
} from './driver.ts'
export { mountDisks, MountDisk } from './compose/mounts.ts'
export type { MountTable } from './compose/mounts.ts'
export { readOnly } from './compose/read-only.ts'
export { validated } from './compose/validation.ts'
export type { ValidationRules } from './compose/validation.ts'
export { cached } from './compose/cache.ts'
export type { DiskCacheOptions } from './compose/cache.ts'
export { encrypted } from './compose/encryption.ts'
export type { EncryptionOptions } from './compose/encryption.ts'
