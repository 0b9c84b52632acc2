// The one explicit list of checks that are known to fail for a package today (`.ci/allow-list`),
// so CI can land a new check before every package passes it without ever skipping silently:
// an allowed failure is still printed in full, and an entry whose check now passes is reported
// so it can be deleted. The file is meant to be empty.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export type CheckName = 'readme' | 'coverage' | 'cycles' | 'pack' | 'floor' | 'peers'

export interface AllowList {
  /** The reason written for (check, package), or undefined when the failure is not allowed. */
  reason(check: CheckName, pkg: string): string | undefined
  /** Prints the verdict of one check: which failures were allowed, which entries are stale. */
  settle(check: CheckName, failed: ReadonlySet<string>): number
}

const CHECKS: readonly CheckName[] = ['readme', 'coverage', 'cycles', 'pack', 'floor', 'peers']

export function loadAllowList(root = process.cwd()): AllowList {
  const file = join(root, '.ci', 'allow-list')
  const entries = new Map<string, string>()
  if (existsSync(file)) {
    for (const [i, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
      const [body = '', ...comment] = raw.split('#')
      const words = body.trim().split(/\s+/).filter(Boolean)
      if (words.length === 0) continue
      const [check, pkg] = words
      if (words.length !== 2 || !CHECKS.includes(check as CheckName) || !pkg)
        throw new Error(`.ci/allow-list:${i + 1}: expected "<${CHECKS.join('|')}> <package> # reason", got "${raw}"`)
      const reason = comment.join('#').trim()
      if (!reason) throw new Error(`.ci/allow-list:${i + 1}: say why ${pkg} may fail ${check}, after a #`)
      entries.set(`${check} ${short(pkg)}`, reason)
    }
  }
  return {
    reason: (check, pkg) => entries.get(`${check} ${short(pkg)}`),
    settle(check, failed) {
      let blocking = 0
      for (const pkg of [...failed].sort()) {
        const reason = entries.get(`${check} ${short(pkg)}`)
        if (reason) console.log(`${check}: ${short(pkg)} FAILED, allowed by .ci/allow-list (${reason})`)
        else blocking++
      }
      const failedShort = new Set([...failed].map(short))
      for (const key of entries.keys()) {
        const [c, pkg] = key.split(' ') as [string, string]
        if (c === check && !failedShort.has(pkg))
          console.log(`${check}: ${pkg} passes now: delete "${key}" from .ci/allow-list`)
      }
      return blocking
    },
  }
}

/** `@beaver-kit/cache`, `packages/cache` and `cache` all name the same package. */
function short(pkg: string): string {
  return pkg.replace(/^@beaver-kit\//, '').replace(/^(packages|examples)\//, '')
}
