import { StorageError } from './errors.ts'

// Control characters (C0, DEL, C1): invisible in logs and consoles, and NUL truncates paths in C APIs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

function refuse(path: string, why: string): never {
  throw new StorageError('STORAGE_PATH_INVALID', `The path ${JSON.stringify(path)} is refused: ${why}.`, {
    details: { path },
  })
}

/**
 * Checks a file path and returns it unchanged: relative, "/"-separated, no empty, "." or ".."
 * segment, no backslash, NUL or control character, at most `maxBytes` UTF-8 bytes. Paths are
 * never rewritten (a silently normalised path is how `a/../../etc` gets through), only refused.
 */
export function checkPath(path: unknown, maxBytes: number): string {
  if (typeof path !== 'string' || path === '') refuse(String(path), 'a path is a non-empty string')
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    refuse(path, 'absolute paths are not accepted; give it relative to the disk')
  if (path.includes('\\')) refuse(path, 'backslashes are not separators here; use "/"')
  if (CONTROL.test(path)) refuse(path, 'it holds NUL or a control character')
  if (path !== path.normalize('NFC')) refuse(path, 'it is not in Unicode NFC form')
  if (Buffer.byteLength(path) > maxBytes) refuse(path, `it is longer than ${maxBytes} bytes`)
  for (const segment of path.split('/')) {
    if (segment === '' && !path.endsWith('/')) refuse(path, 'it holds an empty segment ("//")')
    if (segment === '.' || segment === '..') refuse(path, `it holds a "${segment}" segment`)
  }
  if (path.endsWith('/')) refuse(path, 'a file path does not end with "/"')
  return path
}

/** Checks a listing prefix: "" (everything) or a path prefix, which may end with "/". */
export function checkPrefix(prefix: unknown, maxBytes: number): string {
  if (prefix === undefined || prefix === '') return ''
  if (typeof prefix !== 'string') refuse(String(prefix), 'a prefix is a string')
  checkPath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, maxBytes)
  return prefix
}
