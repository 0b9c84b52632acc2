// Prints one plain closing line, `tests: N passed, N failed, N skipped`, after Vitest's own
// summary, so that any CI (and a person skimming a log) reads the result without parsing
// Vitest's colored output. A run that executed no test at all fails: that is never a pass.
import type { Reporter, TestModule } from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
      }
      if (mod.state() === 'failed' && mod.children.size === 0) failed++
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
    if (passed + failed === 0) {
      process.stdout.write('no test was executed: treating the run as failed\n')
      process.exitCode = 1
    }
  }
}
