import { contentTypeOf } from './attributes.ts'
import { StorageError } from './errors.ts'
import { DEFAULT_CONTENT_TYPE, type DriverPut, type FileAttributes, type FileStat } from './driver.ts'

/**
 * The attributes a file-system-like disk (local, sftp, zip) keeps beside the bytes: only those
 * that differ from what the path alone implies, so a plain file needs no sidecar at all.
 */
export type Sidecar = Omit<FileAttributes, 'metadata'> & {
  metadata?: Record<string, string>
  /** Object tags (disks with tags), kept only when there are some. */
  tags?: Record<string, string>
}

/** The sidecar of a put: the attributes (and tags) that differ from the defaults (empty when none do). */
export function sidecarOf(key: string, attributes: DriverPut['attributes'], tags?: DriverPut['tags']): Sidecar {
  const { contentType, visibility, metadata, cacheControl, contentDisposition } = attributes
  return {
    ...(contentType === (contentTypeOf(key) ?? DEFAULT_CONTENT_TYPE) ? {} : { contentType }),
    ...(visibility === 'private' ? {} : { visibility }),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata: { ...metadata } } : {}),
    ...(cacheControl === undefined ? {} : { cacheControl }),
    ...(contentDisposition === undefined ? {} : { contentDisposition }),
    ...(tags && Object.keys(tags).length > 0 ? { tags: { ...tags } } : {}),
  }
}

/** A sidecar with new tags (dropped when there are none). */
export function withTags(sidecar: Sidecar, tags: Readonly<Record<string, string>>): Sidecar {
  const { tags: _old, ...rest } = sidecar
  return Object.keys(tags).length === 0 ? rest : { ...rest, tags: { ...tags } }
}

/** A sidecar with a new visibility (dropped when private, the default). */
export function withVisibility(sidecar: Sidecar, visibility: FileAttributes['visibility']): Sidecar {
  const { visibility: _old, ...rest } = sidecar
  return visibility === 'private' ? rest : { ...rest, visibility }
}

/** The attribute part of stat() from a sidecar and the path's defaults. */
export function attributesOf(
  key: string,
  side: Sidecar,
): Pick<FileStat, 'contentType' | 'cacheControl' | 'contentDisposition' | 'metadata' | 'visibility'> {
  return {
    contentType: side.contentType ?? contentTypeOf(key) ?? DEFAULT_CONTENT_TYPE,
    cacheControl: side.cacheControl,
    contentDisposition: side.contentDisposition,
    metadata: { ...side.metadata },
    visibility: side.visibility ?? 'private',
  }
}

/** The etag of a file known by its modification time and size (no content hash on these disks). */
export function fileEtag(mtimeMs: number, size: number): string {
  return `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`
}

/** Folder under a file-system disk's root that holds the kit's temp files and sidecars; paths into it are refused. */
export const RESERVED_FOLDER = '.beaver'

/** Refuses a key inside the disk's own folder (temp files, sidecars). */
export function refuseReserved(key: string, disk: string): void {
  if (key === RESERVED_FOLDER || key.startsWith(`${RESERVED_FOLDER}/`))
    throw new StorageError(
      'STORAGE_PATH_INVALID',
      `The path ${JSON.stringify(key)} is refused: "${RESERVED_FOLDER}/" is the ${disk} disk's own folder.`,
      { details: { path: key } },
    )
}
