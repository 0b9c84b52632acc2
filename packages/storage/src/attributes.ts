import type { FileAttributes } from './driver.ts'
import { StorageError } from './errors.ts'

// The types a browser needs right to render a file; anything else is application/octet-stream
// unless put() is given contentType.
const TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  woff2: 'font/woff2',
  wasm: 'application/wasm',
}

/** The content type for a path's extension, when it is a common one. */
export function contentTypeOf(path: string): string | undefined {
  const dot = path.lastIndexOf('.')
  if (dot < 0 || dot < path.lastIndexOf('/')) return undefined
  return TYPES[path.slice(dot + 1).toLowerCase()]
}

const NAME = /^[a-z0-9][a-z0-9-]{0,127}$/
const HEADER_VALUE = /^[\x20-\x7e]*$/
/** S3 caps user metadata at 2 KB; the same bound everywhere keeps drivers interchangeable. */
export const MAX_METADATA_BYTES = 2048

function invalid(path: string, why: string): never {
  throw new StorageError('STORAGE_OPTIONS_INVALID', `put(${JSON.stringify(path)}): ${why}.`, { details: { path } })
}

/**
 * Checks attributes so every driver can store them as HTTP headers: metadata names lowercase
 * letters, digits and "-"; values printable ASCII (encode anything else yourself); at most
 * 2 KB of metadata in all; no line breaks in content type, cache-control or disposition.
 */
export function checkAttributes(path: string, attributes: FileAttributes): FileAttributes {
  const { contentType, cacheControl, contentDisposition, metadata } = attributes
  for (const [name, value] of [
    ['contentType', contentType],
    ['cacheControl', cacheControl],
    ['contentDisposition', contentDisposition],
  ] as const)
    if (value !== undefined && (typeof value !== 'string' || !HEADER_VALUE.test(value)))
      invalid(path, `${name} must be printable ASCII without line breaks`)
  let bytes = 0
  const clean: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata ?? {})) {
    if (!NAME.test(name))
      invalid(path, `metadata name ${JSON.stringify(name)} must be lowercase letters, digits and "-"`)
    if (typeof value !== 'string' || !HEADER_VALUE.test(value))
      invalid(
        path,
        `metadata ${JSON.stringify(name)} must be a printable ASCII string (encode other text, e.g. with encodeURIComponent)`,
      )
    bytes += name.length + value.length
    clean[name] = value
  }
  if (bytes > MAX_METADATA_BYTES)
    invalid(path, `metadata is ${bytes} bytes; at most ${MAX_METADATA_BYTES} are kept by every driver`)
  return {
    ...(contentType === undefined ? {} : { contentType }),
    ...(cacheControl === undefined ? {} : { cacheControl }),
    ...(contentDisposition === undefined ? {} : { contentDisposition }),
    metadata: clean,
  }
}

/** Most tags a file may carry: S3's and Azure's limit, so every driver keeps the same set. */
export const MAX_TAGS = 10
// What S3 and Azure blob index tags both accept: letters, digits, space and + - = . _ : /
const TAG_TEXT = /^[\p{L}\p{N} +\-=._:/]*$/u

/**
 * Checks object tags so every driver with tags stores them as given: at most 10, names of
 * 1 to 128 characters and values of at most 256, written with letters, digits, space and
 * `+ - = . _ : /` (what S3 object tags and Azure blob index tags both accept).
 */
export function checkTags(
  path: string,
  tags: Readonly<Record<string, string>>,
  operation = 'put',
): Record<string, string> {
  const bad = (why: string): never => {
    throw new StorageError('STORAGE_OPTIONS_INVALID', `${operation}(${JSON.stringify(path)}): ${why}.`, {
      details: { path },
    })
  }
  if (typeof tags !== 'object' || tags === null) bad('tags must be an object of string values')
  const entries = Object.entries(tags)
  if (entries.length > MAX_TAGS) bad(`${entries.length} tags given; at most ${MAX_TAGS} are kept by every driver`)
  const clean: Record<string, string> = {}
  for (const [name, value] of entries) {
    if ([...name].length < 1 || [...name].length > 128 || !TAG_TEXT.test(name))
      bad(`tag name ${JSON.stringify(name)} must be 1 to 128 letters, digits, spaces or + - = . _ : /`)
    if (typeof value !== 'string' || [...value].length > 256 || !TAG_TEXT.test(value))
      bad(`tag ${JSON.stringify(name)} must be a string of at most 256 letters, digits, spaces or + - = . _ : /`)
    clean[name] = value
  }
  return clean
}
