import { randomBytes } from 'node:crypto'

/** A name no other test (or run) uses: `prefix_<pid>_<random>`, safe for keys, tables and queues. */
export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}
