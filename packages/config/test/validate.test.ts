import { BeaverError } from '@beaver-kit/core'
import { describe, expect, it } from 'vitest'
import {
  defineSchema,
  f,
  isConfigError,
  resolveConfig,
  validateConfiguration,
  type ConfigError,
} from '@beaver-kit/config'

const cacheSchema = defineSchema(
  'CACHE',
  {
    driver: f.enum({ values: ['memory', 'redis'], default: 'memory', doc: 'Driver' }),
    ttl: f.duration({ default: '1h', doc: 'TTL' }),
  },
  'cache',
)
const logSchema = defineSchema(
  'LOG',
  {
    level: f.enum({ values: ['debug', 'info'], default: 'info', doc: 'Level' }),
    token: f.string({ secret: true, doc: 'Token' }),
  },
  'logger',
)

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (isConfigError(err)) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('validateConfiguration', () => {
  it('returns what every schema and factory produced when all are valid', () => {
    const env = { BEAVER_CACHE_DRIVER: 'redis' }
    const { cache, answer } = validateConfiguration({ cache: cacheSchema, answer: () => 42 }, { env })
    expect(cache.values.driver).toBe('redis')
    expect(answer).toBe(42)
  })

  it('reports every bad variable of every package in one error, grouped by package, secrets masked', () => {
    const env = {
      BEAVER_CACHE_DRIVER: 'reddis',
      BEAVER_CACHE_TTL: 'soon',
      BEAVER_LOG_LEVEL: 'loud',
      BEAVER_LOG_TOKEN: '',
    }
    const err = errorOf(() =>
      validateConfiguration(
        {
          cache: cacheSchema,
          logger: () => resolveConfig(logSchema, { env: { ...env, BEAVER_LOG_TOKN: 'hunter2' } }),
          http: () => {
            throw new BeaverError('HTTP_DRIVER_UNKNOWN', 'BEAVER_HTTP_DRIVER is "curl"; expected one of undici', {
              details: { setting: 'BEAVER_HTTP_DRIVER' },
            })
          },
          fine: () => 'ok',
        },
        { env },
      ),
    )
    expect(err.code).toBe('CONFIG_INVALID')
    expect(err.issues.map((i) => [i.package, i.name])).toEqual([
      ['cache', 'BEAVER_CACHE_DRIVER'],
      ['cache', 'BEAVER_CACHE_TTL'],
      ['logger', 'BEAVER_LOG_LEVEL'],
      ['logger', 'BEAVER_LOG_TOKN'],
      ['http', 'BEAVER_HTTP_DRIVER'],
    ])
    expect(err.message).toBe(
      [
        'Invalid configuration (5 problems in cache, logger, http):',
        '  cache:',
        '    - BEAVER_CACHE_DRIVER is "reddis": expected one of memory, redis',
        '    - BEAVER_CACHE_TTL is "soon": expected a duration such as 250ms, 10s, 5m, 1.5h, 2d or 1h30m (a bare number is milliseconds)',
        '  logger:',
        '    - BEAVER_LOG_LEVEL is "loud": expected one of debug, info',
        '    - BEAVER_LOG_TOKN: is not a known setting; did you mean BEAVER_LOG_TOKEN?',
        '  http:',
        '    - BEAVER_HTTP_DRIVER is "curl"; expected one of undici',
      ].join('\n'),
    )
    expect(err.message).not.toContain('hunter2')
  })

  it('rethrows an error that is not a configuration problem (a bug) as it is', () => {
    const bug = new TypeError('x is not a function')
    expect(() =>
      validateConfiguration({
        broken: () => {
          throw bug
        },
      }),
    ).toThrow(bug)
  })
})
