import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ENDPOINTS } from '../src/routes.ts'

describe('the README', () => {
  it('lists every endpoint with its methods', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
    for (const e of ENDPOINTS) expect(readme).toContain(`| ${e.methods.join(', ')} | \`${e.path}\` |`)
  })
})
