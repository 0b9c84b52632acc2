import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.ts'
import { capture } from './helpers/capture.ts'

function make() {
  const sink = capture()
  const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
  return { log, sink }
}

describe('URL credentials masked wherever text enters a line', () => {
  it('masks a URL among escaped quotes and backslashes, and keeps the line valid JSON', () => {
    const { log, sink } = make()
    const tricky = 'say "hi" \\ then postgres://u:esc-secret@db/app "quoted" \\'
    const trailing = 'mysql://root:tail-secret@db\\'
    log.info({ tricky, list: ['a "b"', trailing], clean: 'c:\\x//y' }, 'x')
    const line = sink.lines[0] as string
    expect(line).not.toMatch(/esc-secret|tail-secret/)
    expect(sink.records()[0]).toMatchObject({
      tricky: 'say "hi" \\ then postgres://****@db/app "quoted" \\',
      list: ['a "b"', 'mysql://****@db\\'],
      clean: 'c:\\x//y',
    })
  })

  it('masks URLs in keys, in every string of a line, and in a URL assembled by interpolation', () => {
    const { log, sink } = make()
    log.info(
      { 'redis://u:k3yword@cache': 1, a: 'amqp://u:one-secret@mq', b: 'plain', c: ['nats://u:two-secret@n'] },
      'x',
    )
    log.warn('%s://%s failed', 'https', 'user:interp-secret@api.example.com')
    const text = sink.lines.join('')
    expect(text).not.toMatch(/k3yword|one-secret|two-secret|interp-secret/)
    expect(sink.records()[0]).toMatchObject({
      'redis://****@cache': 1,
      a: 'amqp://****@mq',
      b: 'plain',
      c: ['nats://****@n'],
    })
    expect(sink.records()[1]?.msg).toBe('https://****@api.example.com failed')
  })

  it('masks what toJSON, bindings and setBindings put in the line', () => {
    const { log, sink } = make()
    const conn = { toJSON: () => 'postgres://app:json-secret@db' }
    log.child({ upstream: 'https://u:bound-secret@up' }).info({ conn }, 'x')
    expect(sink.lines.join('')).not.toMatch(/json-secret|bound-secret/)
    expect(sink.records()[0]).toMatchObject({ upstream: 'https://****@up', conn: 'postgres://****@db' })
  })

  it('writes strings without credentials as they are, and masks each URL of a string', () => {
    const { log, sink } = make()
    log.info({ a: 'https://example.com/x?page=2', b: 'c://d', c: 'a://b@' }, 'no url')
    log.info({ a: 's3://k:s1@b', n: 1, b: 'x https://u:s2@h/?token=t y' }, 'x')
    expect(sink.records()[0]).toMatchObject({ a: 'https://example.com/x?page=2', b: 'c://d', c: 'a://****@' })
    expect(sink.records()[1]).toMatchObject({ a: 's3://****@b', n: 1, b: 'x https://****@h/?token=**** y' })
  })

  it("masks the message pino takes from an error, a child's msgPrefix and JSON interpolation", () => {
    const { log, sink } = make()
    log.error(new Error('connect postgres://app:err-secret@db failed'))
    log.error({ err: new Error('connect redis://:key-secret@cache failed') })
    log.child({}, { msgPrefix: 'https:' }).info('//u:prefix-secret@api.example.com down')
    log.info('sent %j', { to: 'amqp://u:json-secret@mq' })
    log.info({}, { url: 'nats://u:object-secret@n' } as unknown as string)
    expect(sink.lines.join('')).not.toMatch(/err-secret|key-secret|prefix-secret|json-secret|object-secret/)
    expect(sink.records().map((r) => r.msg)).toEqual([
      'connect postgres://****@db failed',
      'connect redis://****@cache failed',
      'https://****@api.example.com down',
      'sent {"to":"amqp://****@mq"}',
      { url: 'nats://****@n' },
    ])
  })

  it("masks a module name, the logger's name and what a child's own msg serializer returns", () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], name: 'svc ftp://u:name-secret@f' })
    log.for('mod redis://u:module-secret@r').info('x')
    const serializers = { msg: (m: unknown) => `${String(m)} via ldap://u:own-secret@l` }
    log.child({}, { serializers } as Parameters<typeof log.child>[1]).info('y')
    expect(sink.lines.join('')).not.toMatch(/name-secret|module-secret|own-secret/)
    expect(sink.records()[0]).toMatchObject({ name: 'svc ftp://****@f', module: 'mod redis://****@r' })
    expect(sink.records()[1]?.msg).toBe('y via ldap://****@l')
  })

  it('masks URLs in strings of a line whose shape a guard proves clean', () => {
    const { log, sink } = make()
    const fields = (note: string) => ({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: { i: [note] }, note })
    for (let i = 0; i < 64; i++) log.info(fields('clean'), 'warm')
    log.info(fields('smtp://u:guard-secret@mail'), 'x')
    expect(sink.lines.at(-1)).not.toContain('guard-secret')
    expect(sink.records().at(-1)).toMatchObject({ note: 'smtp://****@mail', h: { i: ['smtp://****@mail'] } })
  })

  it("masks what a child made with pino's own redact option writes", () => {
    const { log, sink } = make()
    const options = { redact: ['a.secret'] } as Parameters<typeof log.child>[1]
    log.child({}, options).info({ a: { secret: 1, url: 'redis://u:a-secret@c' }, b: { url: 'ws://u:b-secret@s' } }, 'x')
    expect(sink.lines[0]).not.toMatch(/a-secret|b-secret/)
    expect(sink.records()[0]).toMatchObject({
      a: { secret: '[Redacted]', url: 'redis://****@c' },
      b: { url: 'ws://****@s' },
    })
  })

  it('writes nothing masked when redaction is off', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], redactKeys: ['none'] })
    log.info({ a: 'redis://u:p@r' }, 'postgres://u:p@db')
    expect(sink.records()[0]).toMatchObject({ a: 'redis://u:p@r', msg: 'postgres://u:p@db' })
  })
})
