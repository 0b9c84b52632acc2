import { afterEach, describe, expect, it, vi } from 'vitest'
import dc from 'node:diagnostics_channel'
import dns from 'node:dns'
import { isConfigError } from '@beaver-kit/config'
import { MockAgent } from 'undici'
import { EgressGuard, EgressRefusal } from '../src/egress.ts'
import { createHttpClient, isHttpRequestError, type EgressDeniedEvent, type HttpRequestError } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client, defer } = useHarness()

afterEach(() => {
  vi.restoreAllMocks()
})

/** How an attacker may spell the loopback address; WHATWG URL parsing folds each into a literal. */
const LOOPBACK_SPELLINGS = [
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0x7f.0.0.1',
  '0177.0.0.1',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  'localhost',
  '[::1]',
]

describe('EgressGuard (the policy)', () => {
  const guard = new EgressGuard({ deny: ['private'], allow: [] })

  it('denies every private, loopback, link-local and reserved address, in both families and embedded forms', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.255.254',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '[::1]',
      'fe80::1',
      'fe80::1%eth0',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '::7f00:1',
      '64:ff9b::7f00:1',
      '64:ff9b::a00:1',
      '2002:7f00:1::',
      '2002:c0a8:101::1',
      '2001::1',
      'not-an-ip',
    ]) {
      expect([address, guard.denies(address)]).toEqual([address, true])
    }
  })

  it('lets public addresses through, also when embedded in IPv6', () => {
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:81a::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::',
    ]) {
      expect([address, guard.denies(address)]).toEqual([address, false])
    }
  })

  it('takes CIDR lists, and allows hosts by name (exact or *.suffix) and addresses by CIDR', () => {
    const custom = new EgressGuard({
      deny: ['203.0.112.0/24', 'private', '2001:db9::/32'],
      allow: ['10.1.0.0/16', 'api.internal', '*.corp.example', '::ffff:192.168.7.7'],
    })
    expect(custom.denies('203.0.112.9')).toBe(true)
    expect(custom.denies('2001:db9::5')).toBe(true)
    expect(custom.denies('10.1.2.3')).toBe(false)
    expect(custom.denies('10.2.0.1')).toBe(true)
    expect(custom.denies('::ffff:10.1.2.3')).toBe(false)
    expect(custom.allowsHost('API.internal.')).toBe(true)
    expect(custom.allowsHost('x.corp.example')).toBe(true)
    expect(custom.allowsHost('corp.example')).toBe(false)
    expect(custom.allowsHost('evilcorp.example')).toBe(false)
    expect(custom.allowsHost('api.internal.evil')).toBe(false)
  })

  it('the guarded lookup drops denied answers (DNS rebinding) and fails when none is left', async () => {
    type Resolve = typeof dns.lookup
    const answers = (list: dns.LookupAddress[]): Resolve =>
      ((_host: string, _options: unknown, cb: (e: null, a: dns.LookupAddress[]) => void) => cb(null, list)) as Resolve
    const lookupWith = (list: dns.LookupAddress[], all: boolean) =>
      new Promise<unknown>((resolve, reject) =>
        guard.lookup(answers(list))('rebind.example', { all }, (error, address, family) =>
          error ? reject(error) : resolve(all ? address : [address, family]),
        ),
      )
    const mixed = [
      { address: '127.0.0.1', family: 4 },
      { address: '93.184.216.34', family: 4 },
    ]
    expect(await lookupWith(mixed, true)).toEqual([{ address: '93.184.216.34', family: 4 }])
    expect(await lookupWith(mixed, false)).toEqual(['93.184.216.34', 4])
    const refusal = (await rejection(lookupWith([{ address: '169.254.169.254', family: 4 }], true))) as EgressRefusal
    expect(refusal).toBeInstanceOf(EgressRefusal)
    expect([refusal.host, refusal.address]).toEqual(['rebind.example', '169.254.169.254'])
  })
})

describe('egress guard in the client', () => {
  it('refuses every spelling of loopback before any byte reaches the server, without retrying', async () => {
    const s = await server((_req, res) => res.end('internal secret'))
    const c = client({ egress: { deny: 'private' }, retry: { baseDelay: 1 } })
    for (const host of LOOPBACK_SPELLINGS) {
      const error = (await rejection(c.get(`http://${host}:${s.port}/admin`))) as HttpRequestError
      expect([host, error.code]).toEqual([host, 'HTTP_EGRESS_DENIED'])
      expect(error.message).toContain('egress')
    }
    expect(s.requests).toHaveLength(0)
    // Policy refusals say nothing about the host's health.
    expect(c.breakers.state(s.url)).toBe('closed')
  })

  it('refuses the cloud metadata address at once', async () => {
    const c = client({ egress: { deny: ['private'] } })
    const error = (await rejection(c.get('http://169.254.169.254/latest/meta-data/'))) as HttpRequestError
    expect(isHttpRequestError(error, 'HTTP_EGRESS_DENIED')).toBe(true)
    expect(error.details).toMatchObject({ host: '169.254.169.254', address: '169.254.169.254' })
  })

  it('checks the address a name resolves to at connect time', async () => {
    const s = await server((_req, res) => res.end('internal secret'))
    const real = dns.lookup
    // A public-looking name whose DNS answer points inside (DNS rebinding).
    vi.spyOn(dns, 'lookup').mockImplementation(((host: string, options: unknown, cb: unknown) =>
      host === 'rebind.example'
        ? (cb as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
        : (real as (h: string, o: unknown, c: unknown) => void)(host, options, cb)) as typeof dns.lookup)
    const c = client({ egress: { deny: 'private' } })
    const error = (await rejection(c.get(`http://rebind.example:${s.port}/`))) as HttpRequestError
    expect(error.code).toBe('HTTP_EGRESS_DENIED')
    expect(error.details).toMatchObject({ host: 'rebind.example', address: '127.0.0.1' })
    expect(s.requests).toHaveLength(0)
    // Allowed by name, the same resolution goes through.
    const trusted = client({ egress: { deny: 'private', allow: ['rebind.example'] } })
    expect(await trusted.get(`http://rebind.example:${s.port}/`).text()).toBe('internal secret')
  })

  it('checks every redirect hop: an allowed host redirecting inward is refused', async () => {
    const inner = await server((_req, res) => res.end('internal secret'))
    const outer = await server((req, res) =>
      res
        .writeHead(302, {
          location: req.url === '/metadata' ? 'http://169.254.169.254/' : `http://127.0.0.1:${inner.port}/`,
        })
        .end(),
    )
    const c = client({ egress: { deny: 'private', allow: ['localhost'] } })
    const error = (await rejection(c.get(`http://localhost:${outer.port}/`))) as HttpRequestError
    expect(error.code).toBe('HTTP_EGRESS_DENIED')
    expect(outer.requests).toHaveLength(1)
    expect(inner.requests).toHaveLength(0)
    expect(((await rejection(c.get(`http://localhost:${outer.port}/metadata`))) as HttpRequestError).code).toBe(
      'HTTP_EGRESS_DENIED',
    )
  })

  it('publishes each refusal on beaver:http:egressDenied', async () => {
    const events: EgressDeniedEvent[] = []
    const listener = (m: unknown): void => void events.push(m as EgressDeniedEvent)
    dc.subscribe('beaver:http:egressDenied', listener)
    defer(() => void dc.unsubscribe('beaver:http:egressDenied', listener))
    await rejection(client({ egress: { deny: 'private' } }).get('http://0x7f.1:9/'))
    expect(events).toEqual([{ method: 'GET', host: 'http://127.0.0.1:9', address: '127.0.0.1' }])
  })

  it('is turned on by BEAVER_HTTP_EGRESS_DENY=private; bad rules name the variable', async () => {
    const s = await server((_req, res) => res.end('internal secret'))
    process.env.T14_HTTP_EGRESS_DENY = 'private'
    try {
      const c = client({ envPrefix: 'T14_' })
      expect(c.config.egress.deny).toEqual(['private'])
      expect(((await rejection(c.get(s.url))) as HttpRequestError).code).toBe('HTTP_EGRESS_DENIED')
      process.env.T14_HTTP_EGRESS_DENY = 'private,10.0.0.0/33'
      const error = (() => {
        try {
          createHttpClient({ envPrefix: 'T14_' })
        } catch (e) {
          return e
        }
      })()
      expect(isConfigError(error)).toBe(true)
      expect((error as Error).message).toContain('T14_HTTP_EGRESS_DENY')
      expect((error as Error).message).toContain('10.0.0.0/33')
    } finally {
      delete process.env.T14_HTTP_EGRESS_DENY
    }
    expect(s.requests).toHaveLength(0)
  })

  it('refuses a custom dispatcher together with the guard, which could not see its connections', async () => {
    const agent = new MockAgent()
    defer(() => agent.close())
    const error = (() => {
      try {
        createHttpClient({ envPrefix: false, dispatcher: agent, egress: { deny: 'private' } })
      } catch (e) {
        return e
      }
    })()
    expect(isConfigError(error)).toBe(true)
    expect((error as Error).message).toMatch(/dispatcher/)
  })
})
