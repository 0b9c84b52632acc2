import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { listChannels } from '@beaver-kit/core'
import { channels } from '../src/index.ts'

describe('declared channels', () => {
  it('are exactly the ones the README Diagnostics section lists', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('<!-- channels:start -->'), readme.indexOf('<!-- channels:end -->'))
    const documented = [...section.matchAll(/`(beaver:http:[A-Za-z]+)`/g)].map((m) => m[1])
    const declared = listChannels(channels).map((c) => c.name)
    expect(declared).toEqual([
      'beaver:http:request',
      'beaver:http:retry',
      'beaver:http:breaker',
      'beaver:http:egressDenied',
    ])
    expect(documented).toEqual(declared)
  })
})
