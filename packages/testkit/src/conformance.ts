import { afterEach, beforeEach, describe, it } from 'vitest'
import { uniqueNamespace } from './namespace.ts'

export interface ConformanceContext<Subject, Options> {
  /** The subject built for the current test. */
  subject(): Subject
  /** The namespace the current subject was built with. */
  namespace(): string
  /** Per-driver options (capabilities, limits) passed by the caller. */
  options: Options
  /** Builds another subject on the same namespace (two processes sharing one store). */
  another(): Promise<Subject>
  /**
   * A case only a capable driver runs. On any other driver it is reported as **skipped with
   * `reason`** (the summary line counts it and prints the reason), never as a pass: a case that
   * returns early when a capability is off would be counted as passed. For a decision made
   * inside a case, call Vitest's own `skip(reason)` from the test context.
   * @example
   * ctx.itIf(ctx.options.increment, 'the driver has no atomic increment')('increments', async () => { ... })
   */
  itIf(capable: boolean, reason: string): CaseFn
}

/** Defines one case, like Vitest's `it` without modifiers. */
export type CaseFn = (name: string, fn: () => unknown, timeout?: number) => void

export interface Disposable {
  close?(): unknown
}

/**
 * The conformance-suite pattern: a package family writes its cases once with
 * `defineConformanceSuite`, and every driver runs all of them with one line.
 * Each test gets a fresh subject on its own namespace, closed afterwards.
 * @example
 * export const describeCacheDriver = defineConformanceSuite<Cache, { ttl: boolean }>('cache', (ctx) => {
 *   it('round-trips a value', async () => { ... ctx.subject() ... })
 * })
 * describeCacheDriver('memory', (ns) => createCache({ namespace: ns }), { ttl: true })
 */
export function defineConformanceSuite<Subject extends Disposable, Options = Record<string, never>>(
  family: string,
  body: (ctx: ConformanceContext<Subject, Options>) => void,
): (driver: string, factory: (namespace: string) => Subject | Promise<Subject>, options: Options) => void {
  return function runConformance(driver, factory, options) {
    describe(`${family} conformance: ${driver}`, () => {
      let current: Subject | undefined
      let ns = ''
      const extra: Subject[] = []
      beforeEach(async () => {
        ns = uniqueNamespace(family)
        current = await factory(ns)
      })
      afterEach(async () => {
        for (const s of extra.splice(0)) await s.close?.()
        await current?.close?.()
        current = undefined
      })
      body({
        subject: () => {
          if (!current) throw new Error('conformance subject used outside a test')
          return current
        },
        namespace: () => ns,
        options,
        another: async () => {
          const s = await factory(ns)
          extra.push(s)
          return s
        },
        itIf: (capable, reason) =>
          capable
            ? (name, fn, timeout) => it(name, fn, timeout)
            : (name, _fn, timeout) => it(name, ({ skip }) => skip(`${driver}: ${reason}`), timeout),
      })
    })
  }
}
