import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createLogger, isLoggerError } from '../src/index.ts'
import { parseOutputSpec } from '../src/outputs/spec.ts'
import { formatText } from '../src/outputs/text.ts'
import { capture } from './helpers/capture.ts'

describe('json format', () => {
  it('writes one NDJSON line per call with level, time, pid, hostname, name and msg', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], name: 'links' })
    log.info({ n: 1 }, 'hello %s', 'world')
    expect(sink.lines).toHaveLength(1)
    expect(sink.lines[0]?.endsWith('\n')).toBe(true)
    expect(sink.records()[0]).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      name: 'links',
      n: 1,
      msg: 'hello world',
    })
  })

  it('writes ISO time when asked', () => {
    const sink = capture()
    createLogger({ envPrefix: false, outputs: [], sinks: [sink], time: 'iso' }).info('x')
    expect(sink.records()[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  })
})

describe('text format', () => {
  const line = JSON.stringify({
    level: 40,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    pid: 1,
    hostname: 'h',
    module: 'db',
    msg: 'slow query',
    ms: 812,
    sql: 'select 1',
  })

  it('renders time, level, module, message and fields, without color off a TTY', () => {
    expect(formatText(line, false)).toBe('2026-01-02T03:04:05.006Z WARN  [db] slow query ms=812 sql="select 1"\n')
  })

  it('colors the level only when asked (a TTY)', () => {
    const colored = formatText(line, true)
    expect(colored).toContain('\x1b[33mWARN \x1b[0m')
    expect(stripVTControlCharacters(colored)).toBe(formatText(line, false))
  })

  it('escapes control characters and ANSI escapes in messages, scopes, keys and values', () => {
    const forged = JSON.stringify({
      level: 30,
      time: 0,
      module: 'db\x1b[2J',
      msg: 'title \x1b]0;pwned\x07 done\n1970-01-01T00:00:00.000Z INFO  fake line\r\u009b31m\u2028',
      'key\x1b[31m': 'value\x1b[0m\ttab',
      plain: 'ok\u007f',
    })
    const text = formatText(forged, false)
    // One line, no raw control character (C0, DEL, C1) or line separator anywhere in it.
    expect(text.endsWith('\n')).toBe(true)
    // eslint-disable-next-line no-control-regex -- the control characters are what is checked
    expect(text.slice(0, -1)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/)
    expect(text).toBe(
      '1970-01-01T00:00:00.000Z INFO  [db\\x1b[2J] title \\x1b]0;pwned\\x07 done\\n1970-01-01T00:00:00.000Z INFO  fake line\\r\\x9b31m\\u2028' +
        ' key\\x1b[31m="value\\x1b[0m\\ttab" plain=ok\\x7f\n',
    )
    // With colours on, the only escapes are the logger's own.
    expect(stripVTControlCharacters(formatText(forged, true))).toBe(text)
  })

  it('escapes control characters in an error message and stack, line by line', () => {
    const sink = capture({ format: 'text' })
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    log.error(new Error('bad \x1b[31mred\x1b[0m'))
    const out = sink.lines[0] as string
    expect(out).not.toContain('\x1b')
    expect(out).toContain('bad \\x1b[31mred\\x1b[0m')
  })

  it('prints an error stack and its causes below the line', () => {
    const sink = capture({ format: 'text' })
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    log.error(new Error('outer', { cause: new Error('inner') }))
    expect(sink.lines[0]).toMatch(/ERROR outer\n {4}Error: outer\n(.|\n)*caused by:\n {4}Error: inner/)
  })

  it('applies per output: json to one file, text to another', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beaver-log-format-'))
    try {
      const log = createLogger({
        envPrefix: false,
        outputs: [`file:${join(dir, 'a.log')}`, `file:${join(dir, 'b.log')}?format=text`],
      })
      log.info({ k: 'v' }, 'both')
      await log.close()
      expect(JSON.parse(await readFile(join(dir, 'a.log'), 'utf8'))).toMatchObject({ k: 'v', msg: 'both' })
      expect(await readFile(join(dir, 'b.log'), 'utf8')).toMatch(/^\S+Z INFO {2}both k=v\n$/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('output specs', () => {
  it('parses each kind with its parameters', () => {
    expect(parseOutputSpec('stdout')).toEqual({ kind: 'stdout' })
    expect(parseOutputSpec('stderr?level=error&format=text&mode=sync')).toEqual({
      kind: 'stderr',
      level: 'error',
      format: 'text',
      mode: 'sync',
    })
    expect(parseOutputSpec('file:/var/log/app.log?maxSize=10mb&interval=1d&maxFiles=7&buffer=8kb')).toEqual({
      kind: 'file',
      path: '/var/log/app.log',
      maxSize: 10 * 1024 * 1024,
      interval: 86_400_000,
      maxFiles: 7,
      buffer: 8192,
    })
    expect(parseOutputSpec('syslog')).toMatchObject({ kind: 'syslog', transport: 'udp', host: '127.0.0.1', port: 514 })
    expect(parseOutputSpec('syslog:tcp://logs.internal?facility=local0&appName=api')).toMatchObject({
      transport: 'tcp',
      host: 'logs.internal',
      port: 601,
      facility: 'local0',
      appName: 'api',
    })
    expect(parseOutputSpec('syslog:udp://[::1]:5514')).toMatchObject({ host: '::1', port: 5514 })
    expect(parseOutputSpec('syslog:unix:///run/syslog.sock?framing=lf')).toMatchObject({
      transport: 'unix',
      path: '/run/syslog.sock',
      framing: 'lf',
    })
  })

  it('rejects unknown kinds, parameters and values with LOG_OUTPUT_INVALID naming the input', () => {
    for (const bad of [
      'stdot',
      'file:',
      'file:/x?maxSize=huge',
      'stdout?levle=warn',
      'syslog:http://x',
      'stdout?level=loud',
      'syslog:unix://',
    ]) {
      let error: unknown
      try {
        parseOutputSpec(bad)
      } catch (err) {
        error = err
      }
      expect(isLoggerError(error, 'LOG_OUTPUT_INVALID', 'LOG_LEVEL_INVALID'), bad).toBe(true)
    }
    expect(() => createLogger({ envPrefix: false, outputs: ['stdout?levle=warn'] })).toThrow(/levle/)
  })
})
