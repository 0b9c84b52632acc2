import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isConfigError } from '@beaver-kit/config'
import { isCoreError, shutdown } from '@beaver-kit/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger, initLogger, isLoggerError, logger, resetLogger, withPrefix } from '../src/index.ts'
import { capture } from './helpers/capture.ts'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-log-instance-'))
})
afterEach(async () => {
  await resetLogger()
  for (const key of Object.keys(process.env))
    if (key.startsWith('BEAVER_LOG_') || key.startsWith('AUDIT_LOG_')) delete process.env[key]
  await rm(dir, { recursive: true, force: true })
})

describe('default instance', () => {
  it('is built lazily from BEAVER_LOG_* and is the same object until reset', async () => {
    const file = join(dir, 'default.log')
    process.env.BEAVER_LOG_OUTPUTS = `file:${file}`
    process.env.BEAVER_LOG_LEVEL = 'debug'
    process.env.BEAVER_LOG_LEVELS = 'db=error'
    const log = logger()
    expect(logger()).toBe(log)
    log.debug('from env')
    log.for('db').warn('hidden by module level')
    await resetLogger()
    expect(await readFile(file, 'utf8')).toMatch(/"msg":"from env"/)
    expect(await readFile(file, 'utf8')).not.toMatch(/hidden/)
    expect(logger()).not.toBe(log)
  })

  it('rethrows a bad configuration until it is fixed, naming the variable', () => {
    process.env.BEAVER_LOG_LEVEL = 'loud'
    let error: unknown
    try {
      logger()
    } catch (err) {
      error = err
    }
    expect(isConfigError(error)).toBe(true)
    expect(String(error)).toMatch(/BEAVER_LOG_LEVEL/)
    expect(() => logger()).toThrow(/BEAVER_LOG_LEVEL/)
    delete process.env.BEAVER_LOG_LEVEL
    process.env.BEAVER_LOG_OUTPUTS = `file:${join(dir, 'x.log')}`
    expect(logger().level).toBe('info')
  })

  it('initLogger configures before first use and throws once the default exists', () => {
    const sink = capture()
    const log = initLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    expect(logger()).toBe(log)
    logger().info('via init')
    expect(sink.records()[0]).toMatchObject({ msg: 'via init' })
    let error: unknown
    try {
      initLogger({ envPrefix: false, outputs: [] })
    } catch (err) {
      error = err
    }
    expect(isCoreError(error, 'CORE_ALREADY_INITIALIZED')).toBe(true)
  })

  it('is closed by core shutdown(), which flushes it', async () => {
    const file = join(dir, 'shutdown.log')
    initLogger({ envPrefix: false, outputs: [`file:${file}`] }).info('before shutdown')
    await shutdown()
    expect(await readFile(file, 'utf8')).toContain('before shutdown')
  })

  it('withPrefix reads another prefix', async () => {
    const file = join(dir, 'audit.log')
    process.env.AUDIT_LOG_OUTPUTS = `file:${file}`
    const audit = withPrefix('AUDIT_')
    audit.info('audited')
    await audit.close()
    expect(await readFile(file, 'utf8')).toContain('audited')
  })

  it('reports a near-miss variable with a suggestion', () => {
    process.env.BEAVER_LOG_LEVLE = 'debug'
    expect(() => createLogger()).toThrow(/BEAVER_LOG_LEVEL/)
  })
})

describe('close()', () => {
  it('is idempotent, works with await using, and counts lines logged afterwards as dropped', async () => {
    const file = join(dir, 'closed.log')
    {
      await using log = createLogger({ envPrefix: false, outputs: [`file:${file}`] })
      log.info('inside')
    }
    expect(await readFile(file, 'utf8')).toContain('inside')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}`] })
    await Promise.all([log.close(), log.close()])
    await log.close()
    log.info('too late')
    log.error('also too late')
    expect(log.stats()).toEqual({ dropped: 2, outputs: [{ name: `file:${file}`, dropped: 2 }] })
  })

  it('flushes and closes user sinks', async () => {
    const calls: string[] = []
    const log = createLogger({
      envPrefix: false,
      outputs: [],
      sinks: [{ write: () => calls.push('write'), flush: () => calls.push('flush'), close: () => calls.push('close') }],
    })
    log.info('x')
    await log.close()
    log.info('after close')
    expect(calls).toEqual(['write', 'flush', 'close'])
    expect(log.stats().dropped).toBe(1)
  })

  it('counts a throwing sink instead of throwing into the caller', () => {
    const log = createLogger({
      envPrefix: false,
      outputs: [],
      sinks: [
        {
          write: () => {
            throw new Error('full')
          },
        },
      ],
    })
    expect(() => log.info('x')).not.toThrow()
    expect(log.stats().dropped).toBe(1)
  })

  it('refuses a configuration without any output', () => {
    let error: unknown
    try {
      createLogger({ envPrefix: false, outputs: [] })
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_OUTPUT_INVALID')).toBe(true)
  })
})

describe('pino interop', () => {
  it('exposes the pino instance, whose children keep the kit features', () => {
    const sink = capture()
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [sink] })
    const child = log.pino.child({ reqId: 'abc' })
    child.info({ password: 'p' }, 'from pino')
    expect(sink.records()[0]).toMatchObject({ reqId: 'abc', password: '[REDACTED]', msg: 'from pino' })
    expect(typeof log.pino.levels.values.info).toBe('number')
  })
})
