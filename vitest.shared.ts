// Shared Vitest settings: every package resolves its siblings from source through the
// `@beaver-kit/source` export condition, so tests never need a build step first.
import type { ViteUserConfig } from 'vitest/config'

// Only the source condition plus "node": Vitest passes these to workers as Node --conditions,
// and "import"/"module" there would make Node's own require() of a dual package (pg requiring
// pg-pool) pick the ESM entry and fail. Vite adds import/require per import kind itself.
const conditions = ['@beaver-kit/source', 'node']

export function projectConfig(name: string): ViteUserConfig {
  return {
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@beaver-kit/source'] } },
    test: {
      name,
      include: ['test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      pool: 'forks',
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  }
}
