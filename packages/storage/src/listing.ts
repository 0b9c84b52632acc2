import type { ListEntry, ListPage } from './driver.ts'

/** Byte-order comparison, the order S3 lists in, so every driver pages the same way. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/**
 * One page of a listing built from every key under a prefix (drivers that hold their index
 * in memory or read it from disk): sorted in byte order, folders collapsed when not recursive,
 * the cursor the last entry returned (the next page starts after it).
 */
export function listSorted(
  prefix: string,
  keys: readonly string[],
  options: { recursive: boolean; limit: number; cursor?: string | undefined },
  info: (key: string) => { size: number; lastModified: Date },
): ListPage {
  const entries = new Map<string, ListEntry>()
  for (const key of keys) {
    if (!options.recursive) {
      const slash = key.indexOf('/', prefix.length)
      if (slash >= 0) {
        const folder = key.slice(0, slash + 1)
        entries.set(folder, { type: 'folder', path: folder })
        continue
      }
    }
    entries.set(key, { type: 'file', path: key, ...info(key) })
  }
  const sorted = [...entries.values()].sort((a, b) => compareKeys(a.path, b.path))
  const after = options.cursor === undefined ? sorted : sorted.filter((e) => compareKeys(e.path, options.cursor!) > 0)
  const page = after.slice(0, options.limit)
  return { entries: page, cursor: after.length > options.limit ? page[page.length - 1]!.path : undefined }
}
