// Prints one plain closing line, `tests: N passed, N failed, N skipped`, after Vitest's own
// summary, so that any CI (and a person skimming a log) reads the result without parsing
// Vitest's colored output. Skipped cases are counted, and those skipped with a reason (a
// conformance case the driver cannot run, `ctx.skip(reason)`) are listed under it by reason,
// so reduced coverage is visible. A run that executed no test at all fails: that is never a pass.
import type { Reporter, TestModule } from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    const reasons = new Map<string, number>()
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const result = test.result()
        if (result.state === 'passed') passed++
        else if (result.state === 'failed') failed++
        else {
          skipped++
          const note = result.state === 'skipped' ? result.note : undefined
          if (note) reasons.set(note, (reasons.get(note) ?? 0) + 1)
        }
      }
      if (mod.state() === 'failed' && mod.children.size === 0) failed++
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
    for (const [note, count] of [...reasons].sort((a, b) => a[0].localeCompare(b[0]))) {
      process.stdout.write(`  skipped ${count} × ${note}\n`)
    }
    if (passed + failed === 0) {
      process.stdout.write('no test was executed: treating the run as failed\n')
      process.exitCode = 1
    }
  }
}
