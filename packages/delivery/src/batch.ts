/** One item's outcome in a batch: sent with its result, failed with its error, or never started (aborted). */
export type BatchOutcome<R> =
  | { readonly index: number; readonly status: 'sent'; readonly result: R }
  | { readonly index: number; readonly status: 'failed'; readonly error: unknown }
  | { readonly index: number; readonly status: 'skipped' }

/**
 * Sends every item with at most `concurrency` in flight, in input order of start; one item's
 * failure never stops the others, and an abort stops starting new ones (they come back
 * `skipped`). Never rejects for an item: the outcomes say what happened to each, by index.
 * @example const outcomes = await sendEach(messages, { concurrency: 5, signal }, (m) => mailer.send(m))
 */
export async function sendEach<T, R>(
  items: readonly T[],
  options: { concurrency: number; signal?: AbortSignal | undefined },
  send: (item: T, index: number) => Promise<R>,
): Promise<Array<BatchOutcome<R>>> {
  const { signal } = options
  const outcomes = new Array<BatchOutcome<R>>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      if (signal?.aborted) {
        outcomes[index] = { index, status: 'skipped' }
        continue
      }
      try {
        outcomes[index] = { index, status: 'sent', result: await send(items[index] as T, index) }
      } catch (error) {
        outcomes[index] = { index, status: 'failed', error }
      }
    }
  }
  const workers = Math.max(1, Math.min(Math.floor(options.concurrency), items.length))
  await Promise.all(Array.from({ length: workers }, worker))
  return outcomes
}

/** How many outcomes have each status. */
export function countOutcomes(outcomes: ReadonlyArray<{ readonly status: 'sent' | 'failed' | 'skipped' }>): {
  sent: number
  failed: number
  skipped: number
} {
  const counts = { sent: 0, failed: 0, skipped: 0 }
  for (const o of outcomes) counts[o.status]++
  return counts
}
