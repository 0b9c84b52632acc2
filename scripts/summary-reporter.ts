// Prints one plain closing line, `tests: N passed, N failed, N skipped`, after Vitest's own
// summary, so that any CI (and a person skimming a log) reads the result without parsing
// Vitest's colored output. Skipped tests are never invisible: they are listed by reason (the
// note of `ctx.skip(reason)`, else the test's name), per project, so reduced coverage shows.
// A run that executed no test at all fails: that is never a pass.
import type { Reporter, TestCase, TestModule } from 'vitest/node'

const LISTED = 25

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let todo = 0
    const skipped: TestCase[] = []
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else if (test.options.mode === 'todo') todo++
        else skipped.push(test)
      }
      if (mod.state() === 'failed' && mod.children.size === 0) failed++
    }
    const todoText = todo > 0 ? `, ${todo} todo` : ''
    const lines = [`\ntests: ${passed} passed, ${failed} failed, ${skipped.length} skipped${todoText}`]
    if (skipped.length > 0) lines.push(...skipReasons(skipped))
    process.stdout.write(`${lines.join('\n')}\n`)
    if (passed + failed === 0) {
      process.stdout.write('no test was executed: treating the run as failed\n')
      process.exitCode = 1
    }
  }
}

/** `  3  [cache] reason` lines, most frequent first. */
export function skipReasons(skipped: readonly TestCase[]): string[] {
  const counts = new Map<string, number>()
  for (const test of skipped) {
    const result = test.result()
    const note = result.state === 'skipped' ? result.note : undefined
    const reason = `[${test.project.name}] ${note ?? `${test.fullName} (no reason given)`}`
    counts.set(reason, (counts.get(reason) ?? 0) + 1)
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  const out = ['skipped, by reason:', ...sorted.slice(0, LISTED).map(([r, n]) => `  ${String(n).padStart(3)}  ${r}`)]
  if (sorted.length > LISTED) out.push(`  ... and ${sorted.length - LISTED} more reasons`)
  return out
}
