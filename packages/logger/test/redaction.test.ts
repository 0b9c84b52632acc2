import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { createLogger, createRedactor, isLoggerError, withLogContext } from '../src/index.ts'
import { createFieldWalker } from '../src/redact.ts'
import { capture } from './helpers/capture.ts'

function make(options: Parameters<typeof createLogger>[0] = {}) {
  const sink = capture()
  const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], ...options })
  return { log, sink }
}

describe('redaction by key name', () => {
  it('censors the default keys at any depth, in arrays, case-insensitively and as suffixes', () => {
    const { log, sink } = make()
    log.info(
      {
        user: { name: 'ada', password: 'hunter2', profile: { deep: { deeper: { apiToken: 't0k' } } } },
        headers: { Authorization: 'Bearer x', cookie: 'sid=1', 'x-api-token': 'k', 'set-cookie': ['a=1'] },
        list: [{ client_secret: 's' }, { ok: true }],
        tokenCount: 3,
        PASSWORD: 'caps',
      },
      'login',
    )
    const rec = sink.records()[0] as Record<string, unknown>
    expect(rec).toMatchObject({
      user: { name: 'ada', password: '[REDACTED]', profile: { deep: { deeper: { apiToken: '[REDACTED]' } } } },
      headers: {
        Authorization: '[REDACTED]',
        cookie: '[REDACTED]',
        'x-api-token': '[REDACTED]',
        'set-cookie': '[REDACTED]',
      },
      list: [{ client_secret: '[REDACTED]' }, { ok: true }],
      tokenCount: 3,
      PASSWORD: '[REDACTED]',
      msg: 'login',
    })
    expect(sink.lines[0]).not.toMatch(/hunter2|t0k|Bearer|sid=1|caps/)
  })

  it('covers child bindings and context fields, and never mutates the caller', () => {
    const { log, sink } = make()
    const payload = { nested: { password: 'p' } }
    withLogContext({ sessionToken: 'ctx-secret' }, () => {
      log.child({ dbPassword: 'bound-secret' }).info(payload, 'x')
    })
    expect(sink.lines[0]).not.toMatch(/ctx-secret|bound-secret|"p"/)
    expect(sink.records()[0]).toMatchObject({
      sessionToken: '[REDACTED]',
      dbPassword: '[REDACTED]',
      nested: { password: '[REDACTED]' },
    })
    expect(payload).toEqual({ nested: { password: 'p' } })
  })

  it('catches a key right after the fixed prefix, with either time format and a name', () => {
    for (const time of ['epoch', 'iso'] as const) {
      const { log, sink } = make({ time, name: 'svc' })
      log.info({ token: 'a' }, 'x')
      log.child({ secret: 'b' }).info('y')
      expect(sink.lines.join('')).not.toMatch(/"a"|"b"/)
      expect(sink.records().map((r) => r.token ?? r.secret)).toEqual(['[REDACTED]', '[REDACTED]'])
    }
  })

  it('leaves a line without such keys byte for byte, even when a value mentions one', () => {
    const { log, sink } = make()
    const fields = { note: 'the "password": field is gone', list: [{ a: 1 }], url: 'https://x.example/?q=token' }
    log.info(fields, 'token talk')
    const line = sink.lines[0] as string
    const { time } = JSON.parse(line) as { time: number }
    const exact = { level: 30, time, pid: process.pid, hostname: hostname(), ...fields, msg: 'token talk' }
    expect(line).toBe(`${JSON.stringify(exact)}\n`)
  })

  it('uses the configured keys and censor, and none turns it off', () => {
    const custom = make({ redactKeys: ['ssn'], censor: '***' })
    custom.log.info({ ssn: '1', password: 'kept' }, 'x')
    expect(custom.sink.records()[0]).toMatchObject({ ssn: '***', password: 'kept' })
    const off = make({ redactKeys: ['none'] })
    off.log.info({ password: 'visible' }, 'x')
    expect(off.sink.records()[0]).toMatchObject({ password: 'visible' })
  })

  it('survives cycles, even branching ones, and keeps values with toJSON as they serialize', () => {
    const redact = createFieldWalker(['secret'], 'X')
    const a: Record<string, unknown> = { secret: 1 }
    a.self = a
    const out = redact({ a, when: new Date(0), bytes: Buffer.from('secret') })
    expect((out.a as Record<string, unknown>).secret).toBe('X')
    expect(out.when).toBeInstanceOf(Date)
    expect(Buffer.isBuffer(out.bytes)).toBe(true)
    // Ten edges back to the root at every level: without cycle detection, 10^depth visits.
    const wide: Record<string, unknown> = { password: 'p' }
    for (let i = 0; i < 10; i++) wide[`k${i}`] = wide
    const { log, sink } = make()
    log.info({ wide }, 'cyclic')
    expect(sink.lines[0]).toContain('[Circular]')
    expect(sink.lines[0]).not.toContain('"p"')
  })

  it('finds secrets however deep, however far into an array, and in class instances and nested errors', () => {
    const { log, sink } = make()
    let deep: Record<string, unknown> = { password: 'deep-secret' }
    for (let i = 0; i < 40; i++) deep = { level: deep }
    const list = Array.from({ length: 300 }, (_, i) => (i === 250 ? { token: 'far-secret' } : { i }))
    class Account {
      owner = 'ada'
      apiToken = 'instance-secret'
    }
    const nested = Object.assign(new Error('inner'), { details: { password: 'error-secret' } })
    log.info({ deep, list, account: new Account(), result: { error: nested } }, 'x')
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/deep-secret|far-secret|instance-secret|error-secret/)
    const rec = sink.records()[0] as {
      account: unknown
      list: unknown[]
      result: { error: { details: unknown } }
    }
    expect(rec.account).toEqual({ owner: 'ada', apiToken: '[REDACTED]' })
    expect(rec.list[250]).toEqual({ token: '[REDACTED]' })
    expect(rec.result.error.details).toEqual({ password: '[REDACTED]' })
  })

  it('censors bindings set after creation and serialized top-level errors', () => {
    const { log, sink } = make()
    const child = log.child({ a: 1 })
    child.setBindings({ clientSecret: 'bound-later' })
    child.error({ err: Object.assign(new Error('boom'), { details: { password: 'in-details' } }) }, 'failed')
    expect(sink.lines.join('')).not.toMatch(/bound-later|in-details/)
    expect(sink.records()[0]).toMatchObject({
      clientSecret: '[REDACTED]',
      err: { type: 'Error', message: 'boom', details: { password: '[REDACTED]' } },
    })
  })
})

describe('redaction by path', () => {
  it('censors pino-syntax paths: nested, bracketed, wildcards in the middle, at the end and first', () => {
    const { log, sink } = make({
      redact: ['user.ssn', 'cards[*].number', 'headers["x-api-key"]', '*.pin', 'vault.*', 'list[1]'],
      redactKeys: ['none'],
    })
    log.info(
      {
        user: { ssn: '078-05-1120', name: 'ada' },
        cards: [{ number: '4111', brand: 'visa' }, { brand: 'none' }],
        headers: { 'x-api-key': 'k', accept: '*/*' },
        atm: { pin: '1234', bank: 'b' },
        vault: { a: 1, b: { c: 2 } },
        list: ['keep', 'hide'],
      },
      'x',
    )
    expect(sink.records()[0]).toMatchObject({
      user: { ssn: '[REDACTED]', name: 'ada' },
      cards: [{ number: '[REDACTED]', brand: 'visa' }, { brand: 'none' }],
      headers: { 'x-api-key': '[REDACTED]', accept: '*/*' },
      atm: { pin: '[REDACTED]', bank: 'b' },
      vault: { a: '[REDACTED]', b: '[REDACTED]' },
      list: ['keep', '[REDACTED]'],
    })
    expect(sink.records()[0]?.cards).toEqual([{ number: '[REDACTED]', brand: 'visa' }, { brand: 'none' }])
  })

  it('applies to child bindings, context and serialized errors, and never mutates the caller', () => {
    const { log, sink } = make({ redact: ['auth.user', 'err.details.iban'], redactKeys: ['none'] })
    const payload = { auth: { user: 'ada', scheme: 'basic' } }
    log.info(payload, 'x')
    log.child({ auth: { user: 'bound' } }).info('y')
    log.error(Object.assign(new Error('bad'), { details: { iban: 'DE00', ok: true } }))
    const [a, b, c] = sink.records()
    expect(a).toMatchObject({ auth: { user: '[REDACTED]', scheme: 'basic' } })
    expect(b).toMatchObject({ auth: { user: '[REDACTED]' } })
    expect(c).toMatchObject({ err: { details: { iban: '[REDACTED]', ok: true } } })
    expect(payload).toEqual({ auth: { user: 'ada', scheme: 'basic' } })
  })

  it('rejects a malformed path at creation', () => {
    let error: unknown
    try {
      make({ redact: ['a..b'] })
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_REDACT_INVALID')).toBe(true)
  })
})

describe('redaction of what is actually serialized', () => {
  it('matches normalized key names by pattern: every common spelling of a credential', () => {
    const { log, sink } = make()
    const secretKeys = [
      'apiKey',
      'x-api-key',
      'api_key',
      'X-API-KEY',
      'cookies',
      'passwordHash',
      'password_confirmation',
      'private_key',
      'privateKey',
      'credentials',
      'jwt',
      'sessionId',
      'session_id',
      'passwd',
      'pwd',
      'refresh_token',
      'clientSecret',
      'proxy-authorization',
    ]
    const clean = { tokenCount: 3, author: 'ada', keyboard: 'us', monkey: 'yes', id: 7 }
    const fields = Object.fromEntries(secretKeys.map((k, i) => [k, `leak-${i}`]))
    log.info({ ...clean, nested: { ...fields } }, 'x')
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/leak-\d+/)
    const rec = sink.records()[0] as { nested: Record<string, unknown> } & Record<string, unknown>
    for (const k of secretKeys) expect(rec.nested[k], k).toBe('[REDACTED]')
    expect(rec).toMatchObject(clean)
  })

  it('adds configured names to the kit-wide ones with "default", and keeps a plain list exact', () => {
    const both = make({ redactKeys: ['default', 'ssn'] })
    both.log.info({ user_ssn: '1', apiKey: 'k', plain: 'p' }, 'x')
    expect(both.sink.records()[0]).toMatchObject({ user_ssn: '[REDACTED]', apiKey: '[REDACTED]', plain: 'p' })
    const only = make({ redactKeys: ['ssn'] })
    only.log.info({ SSN: '1', apiKey: 'kept' }, 'x')
    expect(only.sink.records()[0]).toMatchObject({ SSN: '[REDACTED]', apiKey: 'kept' })
  })

  it('walks the result of toJSON: class instances and AxiosError-style errors nested in arrays', () => {
    const { log, sink } = make()
    class Session {
      readonly #raw: { id: string; token: string }
      constructor(raw: { id: string; token: string }) {
        this.#raw = raw
      }
      toJSON() {
        return { id: this.#raw.id, accessToken: this.#raw.token }
      }
    }
    const axiosLike = Object.assign(new Error('Request failed with status code 401'), {
      toJSON() {
        return {
          message: 'Request failed with status code 401',
          config: { url: '/me', headers: { Authorization: 'Bearer axios-secret', Accept: 'json' } },
        }
      },
    })
    const session = new Session({ id: 's1', token: 'tojson-secret' })
    log.info({ sessions: [session], failures: { list: [axiosLike] } }, 'x')
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/tojson-secret|axios-secret/)
    const rec = sink.records()[0] as {
      sessions: unknown[]
      failures: { list: Array<{ config: { headers: unknown } }> }
    }
    expect(rec.sessions).toEqual([{ id: 's1', accessToken: '[REDACTED]' }])
    expect(rec.failures.list[0]?.config.headers).toEqual({ Authorization: '[REDACTED]', Accept: 'json' })
    // The caller's objects are untouched.
    expect(session.toJSON()).toEqual({ id: 's1', accessToken: 'tojson-secret' })
  })

  it('masks URL userinfo and secret-named query parameters of URL objects, and keeps a clean URL', () => {
    const { log, sink } = make()
    log.info(
      {
        db: new URL('postgres://app:url-secret@db:5432/app'),
        link: new URL('https://example.com/reset?token=query-secret&page=2#access_token=frag-secret'),
        list: [new URL('redis://user-token-secret@cache:6379/0')],
        home: new URL('https://example.com/a?b=1'),
      },
      'x',
    )
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/url-secret|query-secret|frag-secret|user-token-secret/)
    expect(sink.records()[0]).toMatchObject({
      db: 'postgres://****@db:5432/app',
      link: 'https://example.com/reset?token=****&page=2#access_token=****',
      list: ['redis://****@cache:6379/0'],
      home: 'https://example.com/a?b=1',
    })
  })

  it('masks credentials of URLs inside plain string fields and messages, at any depth', () => {
    const { log, sink } = make()
    log.info(
      {
        target: 'postgres://app:str-secret@db:5432/app',
        nested: { note: 'retrying redis://:nested-secret@cache:6379 in 1s', list: ['amqp://u:list-secret@mq'] },
        link: 'https://example.com/reset?token=query-secret&page=2',
        plain: 'no url here, just text: a://b is not one',
        home: 'https://example.com/a?b=1',
      },
      'connecting to mysql://root:msg-secret@db:3306/app',
    )
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/str-secret|nested-secret|list-secret|query-secret|msg-secret/)
    expect(sink.records()[0]).toMatchObject({
      target: 'postgres://****@db:5432/app',
      nested: { note: 'retrying redis://****@cache:6379 in 1s', list: ['amqp://****@mq'] },
      link: 'https://example.com/reset?token=****&page=2',
      plain: 'no url here, just text: a://b is not one',
      home: 'https://example.com/a?b=1',
      msg: 'connecting to mysql://****@db:3306/app',
    })
  })

  it('masks a URL in a message with interpolation arguments and in a message-only line', () => {
    const { log, sink } = make()
    log.warn('fetch %s failed', 'https://user:arg-secret@api.example.com/x')
    log.error('gave up on https://user:only-secret@api.example.com/x')
    expect(sink.lines.join('')).not.toMatch(/arg-secret|only-secret/)
    expect(sink.records().map((r) => r.msg)).toEqual([
      'fetch https://****@api.example.com/x failed',
      'gave up on https://****@api.example.com/x',
    ])
  })

  it('does not censor booleans under secret-looking names: they hide nothing and say something', () => {
    const { log, sink } = make()
    log.info(
      {
        settings: [
          { name: 'BEAVER_DB_URL', secret: true },
          { name: 'BEAVER_DB_FILE', secret: false },
        ],
      },
      'x',
    )
    log.info({ hasPassword: false, password: 'pw-secret', token: 0 }, 'y')
    expect(sink.records()[0]).toMatchObject({ settings: [{ secret: true }, { secret: false }] })
    expect(sink.records()[1]).toMatchObject({ hasPassword: false, password: '[REDACTED]', token: '[REDACTED]' })
  })

  it('keeps dates, buffers and typed arrays in their own JSON form', () => {
    const { log, sink } = make()
    log.info({ when: new Date(0), bytes: Buffer.from('ab'), ints: new Uint8Array([1, 2]) }, 'x')
    expect(sink.records()[0]).toMatchObject({
      when: '1970-01-01T00:00:00.000Z',
      bytes: { type: 'Buffer', data: [97, 98] },
      ints: { 0: 1, 1: 2 },
    })
  })

  it('censors what lies past the depth limit instead of printing it unredacted', () => {
    const { log, sink } = make()
    let deep: Record<string, unknown> = { password: 'too-deep-secret', note: 'bottom' }
    for (let i = 0; i < 150; i++) deep = { level: deep }
    log.info({ deep }, 'x')
    const line = sink.lines[0] as string
    expect(line).not.toContain('too-deep-secret')
    expect(line).not.toContain('bottom')
    expect(line).toContain('"[Truncated]"')
  })
})

describe('createRedactor: the log redaction as a function of its own', () => {
  it('censors secret keys at any depth and the paths, without touching the input', () => {
    const { redact, matchesKey, censor } = createRedactor({ keys: ['default', 'ssn'], paths: ['card.number'] })
    const input = { user: { password: 'p', user_ssn: '1', name: 'ada' }, card: { number: '4111' }, ok: 1 }
    expect(redact(input)).toEqual({
      user: { password: '[REDACTED]', user_ssn: '[REDACTED]', name: 'ada' },
      card: { number: '[REDACTED]' },
      ok: 1,
    })
    expect(input.user.password).toBe('p')
    expect(censor).toBe('[REDACTED]')
    expect([matchesKey('apiKey'), matchesKey('passwordHash'), matchesKey('name'), matchesKey('')]).toEqual([
      true,
      true,
      false,
      false,
    ])
  })

  it('takes a censor of its own, and none turns key redaction off', () => {
    expect(createRedactor({ censor: '***' }).redact({ token: 't' })).toEqual({ token: '***' })
    // No serialized line to mask here: the redactor masks URL credentials in the strings themselves.
    expect(createRedactor().redact({ db: { url: 'postgres://app:pw@db/x' } })).toEqual({
      db: { url: 'postgres://****@db/x' },
    })
    const off = createRedactor({ keys: ['none'] })
    expect(off.redact({ token: 't' })).toEqual({ token: 't' })
    expect(off.matchesKey('token')).toBe(false)
  })
})
