import { CacheError } from '../errors.ts'
import { defineCacheDriver } from '../driver.ts'

/** Options of the database driver. */
export interface DatabaseCacheOptions {
  url?: string
}

/** The database driver definition (registered as `database`). */
export const databaseDriver = defineCacheDriver<DatabaseCacheOptions>({
  name: 'database',
  peers: ['@beaver-kit/database'],
  create() {
    throw new CacheError('CACHE_UNSUPPORTED', 'not yet')
  },
})
