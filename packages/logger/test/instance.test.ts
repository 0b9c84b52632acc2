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

describe('instance surface', () => {
  it('describe() lists every setting with its source, URL credentials masked, and the live state', async () => {
    const log = createLogger({
      env: { BEAVER_LOG_LEVEL: 'warn', BEAVER_LOG_SYSLOG_APP_NAME: 'links' },
      outputs: ['syslog:tcp://user:pw-secret@127.0.0.1:6514'],
    })
    const d = log.describe()
    expect(JSON.stringify(d)).not.toMatch(/pw-secret/)
    expect(d.package).toBe('logger')
    expect(d.envPrefix).toBe('BEAVER_')
    const level = d.settings.find((s) => s.name === 'BEAVER_LOG_LEVEL')
    expect(level).toMatchObject({ value: 'warn', source: 'env' })
    expect(d.settings.find((s) => s.name === 'BEAVER_LOG_OUTPUTS')?.source).toBe('option')
    expect(d.state).toEqual({
      level: 'warn',
      outputs: 'syslog:tcp://127.0.0.1:6514',
      dropped: 0,
      closed: false,
    })
    await log.close()
    expect(log.describe().state.closed).toBe(true)
  })

  it('never echoes the credentials of a bad output spec', () => {
    let error: unknown
    try {
      createLogger({ envPrefix: false, outputs: ['syslog:tcp://user:pw-secret@127.0.0.1:6514?token=t-secret'] })
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_OUTPUT_INVALID')).toBe(true)
    const e = error as Error & { details: unknown }
    expect(`${e.message} ${JSON.stringify(e.details)}`).not.toMatch(/pw-secret|t-secret/)
    expect(e.message).toContain('syslog:tcp://****@127.0.0.1:6514?token=****')
  })

  it('ready() resolves for local outputs, fails with LOG_OUTPUT_UNREACHABLE for an unreachable syslog server', async () => {
    const file = join(dir, 'ready.log')
    const local = createLogger({ envPrefix: false, outputs: [`file:${file}`, 'stdout'] })
    await expect(local.ready()).resolves.toBeUndefined()
    await local.close()
    await expect(local.ready()).rejects.toMatchObject({ code: 'LOG_CLOSED' })
    const missing = join(dir, 'no-such.sock')
    const remote = createLogger({ envPrefix: false, outputs: [`syslog:unix://${missing}`] })
    let error: unknown
    try {
      await remote.ready()
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_OUTPUT_UNREACHABLE')).toBe(true)
    expect((error as Error).message).toContain(`syslog:unix://${missing} cannot be reached`)
    const aborted = AbortSignal.abort(new Error('gave up'))
    await expect(remote.ready({ signal: aborted })).rejects.toThrow('gave up')
    await remote.close()
  })

  it('withPrefix takes options that beat the prefixed environment', async () => {
    const sink = capture()
    process.env.AUDIT_LOG_LEVEL = 'error'
    process.env.AUDIT_LOG_NAME = 'from-env'
    const audit = withPrefix('AUDIT_', { outputs: [], sinks: [sink], name: 'audit' })
    audit.warn('hidden')
    audit.error('shown')
    expect(sink.records().map((r) => [r.name, r.msg])).toEqual([['audit', 'shown']])
    expect(audit.describe().envPrefix).toBe('AUDIT_')
    await audit.close()
  })
})
