import { channels } from './channels.ts'
import type { SetOptions, WarmOptions, WarmResult } from './types.ts'

/** What warming needs of a cache view. */
interface Warmable {
  readonly namespaceName: string
  has(key: string): Promise<boolean>
  set(key: string, value: unknown, options?: SetOptions): Promise<void>
}

/**
 * Loads every key that is not cached yet, at most `concurrency` at a time, publishing progress
 * on `beaver:cache:warm`; a failing key is counted and kept with its error, never thrown.
 */
export async function warm<T>(
  cache: Warmable,
  keys: Iterable<string> | AsyncIterable<string>,
  loader: (key: string) => T | Promise<T>,
  options: WarmOptions,
): Promise<WarmResult> {
  const { concurrency = 4, ...write } = options
  const result: WarmResult = { loaded: 0, skipped: 0, failed: 0, errors: [] }
  const iterator = (
    Symbol.asyncIterator in keys ? keys[Symbol.asyncIterator]() : (keys as Iterable<string>)[Symbol.iterator]()
  ) as AsyncIterator<string> | Iterator<string>
  const one = async (key: string): Promise<void> => {
    try {
      if (await cache.has(key)) result.skipped++
      else {
        await cache.set(key, await loader(key), write)
        result.loaded++
      }
    } catch (error) {
      result.failed++
      result.errors.push({ key, error })
    }
    if (channels.warm.hasSubscribers)
      channels.warm.publish({
        namespace: cache.namespaceName,
        loaded: result.loaded,
        skipped: result.skipped,
        failed: result.failed,
      })
  }
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) return
      await one(next.value)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()))
  return result
}
