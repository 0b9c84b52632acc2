import { defineConfig } from 'vitest/config'
import SummaryReporter from './scripts/summary-reporter.ts'

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts', 'scripts/vitest.config.ts'],
    reporters: ['default', new SummaryReporter()],
    // Off unless asked (`npm test -- --coverage`, `npm run coverage`); CI gates it per package
    // with scripts/coverage.ts over a whole-suite run. With `--project <name>` the include
    // globs are read relative to that package, so these report 0/0 there: use
    // `npx vitest run --project cache --coverage --coverage.include='src/**'` for one package
    // (its own tests only, so at most what the whole suite measures).
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
