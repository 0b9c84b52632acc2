// A driver context for tests that build drivers by hand (a cache builds them with its own).
import { resolveConfig } from '@beaver-kit/config'
import { cacheSchema } from '../../src/config.ts'
import type { DriverContext } from '../../src/driver.ts'

export function testContext(overrides: Partial<DriverContext> = {}): DriverContext {
  return {
    config: resolveConfig(cacheSchema, { envPrefix: false }).values,
    storage: 'serialized',
    onEvict: () => undefined,
    variable: (suffix) => `BEAVER_CACHE_${suffix}`,
    loadDriver: () => Promise.reject(new Error('testContext() builds no inner drivers')),
    ...overrides,
  }
}
