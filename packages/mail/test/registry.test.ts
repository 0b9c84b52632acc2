import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { mailDriverNames } from '@beaver-kit/mail'
import { loadMailDriver } from '../src/registry.ts'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
  devDependencies: Record<string, string>
}

describe('driver registry', () => {
  it('every built-in declares the optional peers it loads, each a devDependency too', async () => {
    for (const name of [
      'log',
      'memory',
      'file',
      'smtp',
      'ses',
      'sendgrid',
      'mailgun',
      'postmark',
      'resend',
      'failover',
      'round-robin',
    ]) {
      expect(mailDriverNames()).toContain(name)
      const definition = await loadMailDriver(name)
      expect(definition.name).toBe(name)
      for (const peer of definition.peers) {
        expect(pkg.peerDependencies[peer], `${name} needs ${peer}`).toBeDefined()
        expect(pkg.peerDependenciesMeta[peer]?.optional).toBe(true)
        expect(pkg.devDependencies[peer], `${peer} is installed for the tests`).toBeDefined()
      }
    }
  })
})
