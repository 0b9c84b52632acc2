import { defineConfig } from 'vitest/config'
import SummaryReporter from './scripts/summary-reporter.ts'

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts', 'scripts/vitest.config.ts'],
    reporters: ['default', new SummaryReporter()],
    // Off unless asked (`npm test -- --coverage`, `npm run coverage`); CI gates it per package
    // with scripts/coverage.ts. Coverage is only collected by a whole-suite run from the root:
    // `vitest run --project <name> --coverage` reports 0/0, so filter by path for one package
    // (`npx vitest run packages/cache/ --coverage`).
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
      exclude: ['**/*.d.ts'],
      reporter: ['json-summary', 'text-summary'],
      reportsDirectory: 'coverage',
      // Figures even when a test failed (the run fails anyway), so a red run still shows them.
      reportOnFailure: true,
    },
  },
})
