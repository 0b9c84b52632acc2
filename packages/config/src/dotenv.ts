import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'

export type EnvVars = Readonly<Record<string, string | undefined>>

/**
 * Reads `.env` then `.env.local` (the later wins) with Node's own parser. A missing file is
 * fine; the result is a plain layer that never touches process.env.
 */
export function readEnvFiles(cwd: string, files: readonly string[]): EnvVars {
  const merged: Record<string, string> = Object.create(null) as Record<string, string>
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(join(cwd, file), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    Object.assign(merged, parseEnv(text))
  }
  return merged
}
