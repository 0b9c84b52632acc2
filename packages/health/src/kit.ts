import { watchDefaultInstances } from '@beaver-kit/core'
import type { CheckFn, CheckOptions } from './check.ts'

// Instances that are not a dependency to check: observability itself.
const SKIP = new Set(['health', 'metrics', 'tracing', 'logger'])

type Ready = { ready?: unknown }

/**
 * Registers a critical readiness check (its `ready()`: one round trip) for every kit default
 * instance that exists or is created later, named after its package (`database`, `cache`, `queue`),
 * and removes it when the instance closes. Returns the unwatch function.
 */
export function watchKitInstances(
  register: (name: string, check: CheckFn, options?: CheckOptions) => () => void,
): () => void {
  const removers = new Map<object, () => void>()
  const unwatch = watchDefaultInstances((change) => {
    if (SKIP.has(change.name)) return
    const instance = change.instance as Ready
    if (change.state === 'closed') {
      removers.get(instance)?.()
      removers.delete(instance)
      return
    }
    if (typeof instance.ready !== 'function' || removers.has(instance)) return
    const ready = instance.ready as (options: { signal: AbortSignal }) => Promise<void>
    try {
      removers.set(
        instance,
        register(change.name, (signal) => ready.call(instance, { signal })),
      )
    } catch {
      // A check of that name was registered by hand: the user's one wins.
    }
  })
  return () => {
    unwatch()
    for (const remove of removers.values()) remove()
    removers.clear()
  }
}
