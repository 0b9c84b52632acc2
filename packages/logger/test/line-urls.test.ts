import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.ts'
import { maskUrlsInLine } from '../src/line-urls.ts'
import { capture } from './helpers/capture.ts'

function make() {
  const sink = capture()
  const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
  return { log, sink }
}

describe('URL credentials masked in the serialized line', () => {
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

  it('returns a line without credentials as the same string, and masks each URL of a line', () => {
    const clean = '{"a":"https://example.com/x?page=2","b":"c://d"}\n'
    expect(maskUrlsInLine(clean)).toBe(clean)
    expect(maskUrlsInLine('{"a":"no url"}\n')).toBe('{"a":"no url"}\n')
    expect(maskUrlsInLine('{"a":"s3://k:s1@b","n":1,"b":"x https://u:s2@h/?token=t y"}\n')).toBe(
      '{"a":"s3://****@b","n":1,"b":"x https://****@h/?token=**** y"}\n',
    )
  })
})
