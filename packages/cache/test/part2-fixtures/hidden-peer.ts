// A process in which one package cannot be resolved, as if it were not installed: builds a
// cache from the environment given as JSON, calls ready(), and prints what happened as JSON.
// Usage: node --conditions=@beaver-kit/source hidden-peer.ts <package> '<env json>'
import { registerHooks } from 'node:module'

const [hidden, envJson] = process.argv.slice(2) as [string, string]
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === hidden || specifier.startsWith(`${hidden}/`)) {
      // What Node itself throws for a package that is not installed.
      throw Object.assign(new Error(`Cannot find package '${hidden}' imported from ${context.parentURL ?? '?'}`), {
        code: 'ERR_MODULE_NOT_FOUND',
      })
    }
    return nextResolve(specifier, context)
  },
})

const { createCache } = await import('../../src/cache.ts')
const cache = createCache({ env: JSON.parse(envJson) as Record<string, string> })
let outcome: { ok: true } | { ok: false; code: unknown; message: string; package: unknown }
try {
  await cache.ready()
  outcome = { ok: true }
} catch (err) {
  const e = err as { code?: unknown; message?: string; details?: { package?: unknown } }
  outcome = { ok: false, code: e.code, message: e.message ?? String(err), package: e.details?.package }
}
await cache.close().catch(() => undefined)
process.stdout.write(`${JSON.stringify(outcome)}\n`)
