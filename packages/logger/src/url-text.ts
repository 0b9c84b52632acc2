import { maskUrlsIn } from '@beaver-kit/config'

/** The shortest text that URL masking changes: `a://b@` (a userinfo of one character). */
export const SHORTEST_URL = 6

/**
 * A string with the credentials of any URL in it masked (`postgres://user:****@db`,
 * `?token=****`). Strings too short to hold one, or without `://`, are returned as they are
 * without a scan past `includes`.
 */
export function maskUrlText(text: string): string {
  return text.length < SHORTEST_URL || !text.includes('://') ? text : maskUrlsIn(text)
}
