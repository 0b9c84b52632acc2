import { describe, expect, it, type RunnerTestCase, type RunnerTestSuite } from 'vitest'
import { defineConformanceSuite } from '@beaver-kit/testkit'

interface Widget {
  namespace: string
  closed: boolean
  close(): void
}
const built: Widget[] = []
const ran: string[] = []

const describeWidget = defineConformanceSuite<Widget, { fancy: boolean }>('widget', (ctx) => {
  it('gets a fresh subject on its own namespace', async () => {
    expect(ctx.subject().namespace).toBe(ctx.namespace())
    expect(ctx.namespace()).toMatch(/^widget_\d+_[0-9a-f]{8}$/)
    const other = await ctx.another()
    expect(other.namespace).toBe(ctx.namespace())
  })
  ctx.itIf(ctx.options.fancy, 'the driver has no fancy mode')('does the fancy thing', () => {
    ran.push(ctx.namespace())
  })
})

function make(namespace: string): Widget {
  const w: Widget = {
    namespace,
    closed: false,
    close() {
      w.closed = true
    },
  }
  built.push(w)
  return w
}

describeWidget('plain', make, { fancy: false })
describeWidget('fancy', make, { fancy: true })

function findCase(suite: RunnerTestSuite | undefined, suiteName: string, caseName: string): RunnerTestCase {
  const s = suite?.tasks.find((t) => t.name === suiteName) as RunnerTestSuite | undefined
  const c = s?.tasks.find((t) => t.name === caseName)
  if (c?.type !== 'test') throw new Error(`no case ${suiteName} > ${caseName}`)
  return c
}

describe('conformance results', () => {
  it('reports a capability-gated case as skipped with its reason, and runs it where capable', ({ task }) => {
    const file = task.file as unknown as RunnerTestSuite
    const skipped = findCase(file, 'widget conformance: plain', 'does the fancy thing')
    expect(skipped.result?.state).toBe('skip')
    // Vitest keeps skip(note)'s note on the result (the reporters' TestCase.result().note) without typing it here.
    expect((skipped.result as { note?: string } | undefined)?.note).toBe('plain: the driver has no fancy mode')
    const passed = findCase(file, 'widget conformance: fancy', 'does the fancy thing')
    expect(passed.result?.state).toBe('pass')
    expect(ran).toHaveLength(1)
  })

  it('closed every subject it built, the extra ones included', () => {
    expect(built.length).toBe(6)
    expect(built.every((w) => w.closed)).toBe(true)
  })
})
