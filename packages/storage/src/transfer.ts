import type { StorageDriver, Visibility } from './driver.ts'
import { StorageError } from './errors.ts'

/**
 * Copies one file by streaming it from one driver to another (or the same one) with its
 * attributes: what the facade does for drivers without a native copy, and what mounts do
 * across disks. The target commits only once the whole body arrived, so a failed copy leaves
 * no target. Tags go along; a tagged file is refused (STORAGE_UNSUPPORTED) by a target
 * without tags rather than copied without them. False when there is no source.
 */
export async function streamCopy(
  source: StorageDriver,
  from: string,
  target: StorageDriver,
  to: string,
): Promise<boolean> {
  const stat = await source.stat(from)
  const body = stat && (await source.getStream(from, {}))
  if (!stat || !body) return false
  const { size, lastModified: _modified, etag: _etag, tags, ...attributes } = stat
  const tagged = tags !== undefined && Object.keys(tags).length > 0
  if (tagged && !target.capabilities.tags) {
    body.destroy()
    throw new StorageError(
      'STORAGE_UNSUPPORTED',
      `${JSON.stringify(from)} has object tags and the ${target.name} disk it goes to has none; remove them first (setTags(path, {})).`,
      { details: { path: from, driver: target.name } },
    )
  }
  await target.put(to, { body, size, attributes, ...(tagged ? { tags } : {}) })
  return true
}

/** Changes visibility by rewriting the file with the same bytes and attributes (drivers without setVisibility). */
export async function rewriteVisibility(driver: StorageDriver, key: string, visibility: Visibility): Promise<boolean> {
  if (driver.setVisibility) return driver.setVisibility(key, visibility)
  const stat = await driver.stat(key)
  const body = stat && (await driver.getStream(key, {}))
  if (!stat || !body) return false
  const { size, lastModified: _modified, etag: _etag, tags, ...attributes } = stat
  await driver.put(key, { body, size, attributes: { ...attributes, visibility }, ...(tags ? { tags } : {}) })
  return true
}
