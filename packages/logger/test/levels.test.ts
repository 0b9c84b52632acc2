import { describe, expect, it } from 'vitest'
import { createLogger, isLoggerError } from '../src/index.ts'
import { moduleLevel, parseModuleLevels } from '../src/levels.ts'
import { capture } from './helpers/capture.ts'

function make(options: Parameters<typeof createLogger>[0] = {}) {
  const sink = capture()
  const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink], ...options })
  return { log, sink }
}

describe('levels', () => {
  it('writes what is at or above the level and nothing below', () => {
    const { log, sink } = make({ level: 'warn' })
    log.trace('t')
    log.debug('d')
    log.info('i')
    log.warn('w')
    log.error('e')
    log.fatal('f')
    expect(sink.records().map((r) => r.level)).toEqual([40, 50, 60])
  })

  it('makes a disabled level one shared no-op function', () => {
    const { log } = make({ level: 'info' })
    expect(log.debug).toBe(log.trace)
    expect(log.debug.toString()).toMatch(/^function noop\s*\(\)\s*{\s*}$/)
    expect(log.info).not.toBe(log.debug)
  })

  it('silent writes nothing at all', () => {
    const { log, sink } = make({ level: 'silent' })
    log.fatal('f')
    expect(sink.lines).toEqual([])
  })

  it('changes the level at runtime, and children follow their parent', () => {
    const { log, sink } = make({ level: 'info' })
    const child = log.child({ requestId: 'r1' })
    child.debug('hidden')
    log.level = 'debug'
    child.debug('shown')
    expect(log.isLevelEnabled('debug')).toBe(true)
    expect(sink.records()).toEqual([expect.objectContaining({ level: 20, requestId: 'r1', msg: 'shown' })])
  })

  it('gives each output its own level', () => {
    const all = capture()
    const errorsOnly = capture({ level: 'error' })
    const log = createLogger({ envPrefix: false, outputs: [], level: 'debug', sinks: [all, errorsOnly] })
    log.debug('d')
    log.info('i')
    log.error('e')
    expect(all.records().map((r) => r.msg)).toEqual(['d', 'i', 'e'])
    expect(errorsOnly.records().map((r) => r.msg)).toEqual(['e'])
  })
})

describe('per-module levels', () => {
  it('parses rules: exact, hierarchical, longest match first, * for the rest', () => {
    const rules = parseModuleLevels('db=debug, db:pool=error ,http=warn,*=info')
    expect(moduleLevel(rules, 'db')).toBe('debug')
    expect(moduleLevel(rules, 'db:query')).toBe('debug')
    expect(moduleLevel(rules, 'db.query')).toBe('debug')
    expect(moduleLevel(rules, 'db:pool')).toBe('error')
    expect(moduleLevel(rules, 'dbx')).toBe('info')
    expect(moduleLevel(rules, 'http')).toBe('warn')
    expect(moduleLevel(parseModuleLevels('db=debug'), 'cache')).toBeUndefined()
  })

  it('rejects malformed rules with a message that shows the syntax', () => {
    for (const bad of ['db', 'db=', '=debug', 'db=loud']) {
      let error: unknown
      try {
        parseModuleLevels(bad)
      } catch (err) {
        error = err
      }
      expect(isLoggerError(error, 'LOG_LEVELS_INVALID', 'LOG_LEVEL_INVALID')).toBe(true)
    }
    expect(() => make({ levels: 'db=verbose' })).toThrow(/db.*verbose|verbose/)
  })

  it('module loggers obey BEAVER_LOG_LEVELS and carry their name', () => {
    const { log, sink } = make({ level: 'info', levels: 'db=debug,http=error' })
    log.for('db').debug('query')
    log.for('db:pool').debug('acquire')
    log.for('http').warn('hidden')
    log.for('cache').debug('hidden: follows the root level')
    log.for('cache').info('shown')
    expect(sink.records().map((r) => [r.module, r.msg])).toEqual([
      ['db', 'query'],
      ['db:pool', 'acquire'],
      ['cache', 'shown'],
    ])
    expect(log.for('db')).toBe(log.for('db'))
  })

  it('changes module levels at runtime, also for module loggers made from children', () => {
    const { log, sink } = make({ level: 'info', levels: '*=warn' })
    const db = log.for('db')
    const reqDb = log.child({ requestId: 'r9' }).for('db')
    db.info('hidden')
    reqDb.info('hidden')
    log.setLevels('db=debug')
    db.debug('shown 1')
    reqDb.debug('shown 2')
    log.setLevels({ db: 'error' })
    db.warn('hidden')
    expect(sink.records().map((r) => [r.msg, r.requestId])).toEqual([
      ['shown 1', undefined],
      ['shown 2', 'r9'],
    ])
  })

  it('module loggers without a rule follow a runtime change of the root level', () => {
    const { log, sink } = make({ level: 'info', levels: 'db=error' })
    const cache = log.for('cache')
    const db = log.for('db')
    log.level = 'debug'
    cache.debug('shown')
    db.warn('still hidden')
    expect(sink.records().map((r) => r.msg)).toEqual(['shown'])
  })
})
