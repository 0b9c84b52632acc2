/**
 * The result of `run`, or `missing` when it failed because the object is not there (as the
 * backend's `isMissing` tells), so drivers answer undefined/false for a missing file instead
 * of an error. Any other failure is rethrown.
 */
export async function orIfMissing<T, M>(
  run: () => Promise<T>,
  missing: M,
  isMissing: (err: unknown) => boolean,
): Promise<T | M> {
  try {
    return await run()
  } catch (err) {
    if (isMissing(err)) return missing
    throw err
  }
}
