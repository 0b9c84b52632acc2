/**
 * The one expiry arithmetic of the drivers that store an absolute expiry (database rows, S3
 * metadata, DynamoDB attributes, the KV header, the hybrid queue, tiered envelopes), on a
 * clock that tests replace: `expiresAt(ttl, now)` when writing, `isLive`/`remaining` when reading.
 */

/** Milliseconds since the epoch. Drivers take one as `now` so tests can move time by hand. */
export type Clock = () => number

/** The wall clock. */
export const systemClock: Clock = () => Date.now()

/** When an entry written now with `ttlMs` expires, in ms since the epoch; undefined = never. */
export function expiresAt(ttlMs: number | undefined, now: number): number | undefined {
  return ttlMs === undefined ? undefined : now + ttlMs
}

/** Whether an entry expiring at `at` (undefined = never) is still live at `now`. */
export function isLive(at: number | undefined, now: number): boolean {
  return at === undefined || at > now
}

/**
 * The remaining time of a live entry for `ttl()`: `Infinity` when it never expires, else at
 * least 1 ms (an entry that is still there has time left, however little).
 */
export function remaining(at: number | undefined, now: number): number {
  return at === undefined ? Infinity : Math.max(1, at - now)
}
