import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a StorageError can carry; stable, so callers may switch on them. */
export type StorageErrorCode =
  /** The driver name is not built in and was never registered. */
  | 'STORAGE_DRIVER_UNKNOWN'
  /** registerStorageDriver() got a name that is not lowercase letters, digits and dashes. */
  | 'STORAGE_DRIVER_NAME_INVALID'
  /** A path is empty, too long, absolute, or holds "..", ".", "//", a backslash, NUL or a control character. */
  | 'STORAGE_PATH_INVALID'
  /** A path would resolve outside the disk's root (a symlink on the local disk). */
  | 'STORAGE_PATH_ESCAPE'
  /** No file at the path. */
  | 'STORAGE_NOT_FOUND'
  /** A body is larger than maxFileSize, or a file larger than maxReadSize was read into memory. */
  | 'STORAGE_TOO_LARGE'
  /** The body did not match the checksum given to put(); nothing was stored. */
  | 'STORAGE_CHECKSUM_MISMATCH'
  /** put() got a body that is not a string, bytes, a Node Readable or a web ReadableStream. */
  | 'STORAGE_BODY_INVALID'
  /** The driver cannot do this (no signing key for kit-signed URLs, a byte range it cannot serve...). */
  | 'STORAGE_UNSUPPORTED'
  /** A signed URL is malformed, tampered with, for another method, or expired. */
  | 'STORAGE_SIGNATURE_INVALID'
  /** Options given to createStorage or a driver are invalid or incomplete. */
  | 'STORAGE_OPTIONS_INVALID'
  /** The backend answered with an error (the cause is the driver's error). */
  | 'STORAGE_DRIVER'
  /** The caller's signal aborted; the reason is the cause. */
  | 'STORAGE_ABORTED'
  /** The storage was closed. */
  | 'STORAGE_CLOSED'
  /** The disk is read-only (a zip archive opened for reading, a readOnly() wrapper): writes are refused before they reach it. */
  | 'STORAGE_READ_ONLY'
  /** An archive holds an entry that would escape (`../`, absolute) or exceeds a zip-bomb limit; the message names the entry. */
  | 'STORAGE_ARCHIVE_UNSAFE'
  /** No disk is mounted where the path points, or the path is a mount point itself. */
  | 'STORAGE_NOT_MOUNTED'
  /** A validated disk refused the body (type not allowed, content not matching its type); nothing was stored. */
  | 'STORAGE_REJECTED'
  /** An encrypted file failed authentication: altered, truncated, reordered, or another key. */
  | 'STORAGE_TAMPERED'
  /** A multipart upload id is unknown, completed or aborted, or a part is missing. */
  | 'STORAGE_UPLOAD_INVALID'

/**
 * The one error class of @beaver-kit/storage. The message says what happened, with which
 * path, and what to do; `details` carries the same as fields.
 * @example
 * try { await storage().get('a/../b') } catch (err) { if (isStorageError(err, 'STORAGE_PATH_INVALID')) ... }
 */
export class StorageError extends BeaverError<StorageErrorCode> {}

/** True for a StorageError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isStorageError = errorGuard<StorageErrorCode, StorageError>('STORAGE_')
