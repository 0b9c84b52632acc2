import { describe, expect, it } from 'vitest'
import { parseBoolean, parseBytes, parseDuration, parseJson, parseList } from '@beaver-kit/config'

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1h 30m 15s', 5_415_000],
    ['0', 0],
    ['0s', 0],
    ['1500', 1500],
    ['  10S ', 10_000],
    ['0.5ms', 1],
  ])('%s is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each(['', '   ', '-5s', '-1', '5y', '10 minutes', 'ms', 'h1', '1.5.2h', 'abc', '1e3s', 'Infinity'])(
    'rejects %j with the accepted forms',
    (input) => {
      expect(() => parseDuration(input)).toThrow(/duration such as 250ms/)
    },
  )

  it('rejects overflow past the safe integer range', () => {
    expect(() => parseDuration('99999999999999999999d')).toThrow(/too large/)
  })

  it('accepts numbers as milliseconds but not negative ones', () => {
    expect(parseDuration(1234)).toBe(1234)
    expect(() => parseDuration(-1)).toThrow()
    expect(() => parseDuration(Number.NaN)).toThrow()
  })
})

describe('parseBytes', () => {
  it.each([
    ['512', 512],
    ['0', 0],
    ['64kb', 65_536],
    ['64KB', 65_536],
    ['10mb', 10 * 1024 ** 2],
    ['1.5gb', 1.5 * 1024 ** 3],
    ['2 MiB', 2 * 1024 ** 2],
    ['1tb', 1024 ** 4],
    ['100b', 100],
  ])('%s is %d bytes', (input, n) => {
    expect(parseBytes(input)).toBe(n)
  })

  it.each(['', ' ', '-1kb', '10xb', 'mb', '1,5mb', 'ten'])('rejects %j', (input) => {
    expect(() => parseBytes(input)).toThrow(/size such as/)
  })

  it('rejects overflow', () => {
    expect(() => parseBytes('9999999999tb')).toThrow(/too large/)
  })
})

describe('parseBoolean', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['no', false],
    [' off ', false],
  ])('%s is %s', (input, value) => {
    expect(parseBoolean(input)).toBe(value)
  })
  it.each(['', 'y', '2', 'truthy'])('rejects %j', (input) => {
    expect(() => parseBoolean(input)).toThrow(/one of true, false/)
  })
})

describe('parseList', () => {
  it('splits, trims and drops empty items', () => {
    expect(parseList(' a, b ,,c ,')).toEqual(['a', 'b', 'c'])
    expect(parseList('')).toEqual([])
  })
})

describe('parseJson', () => {
  it('drops __proto__, constructor and prototype at any depth', () => {
    const value = parseJson(
      '{"a":1,"__proto__":{"polluted":true},"b":{"constructor":{"prototype":{"x":1}},"c":[{"__proto__":{"y":1}}]}}',
    ) as Record<string, unknown>
    expect(value).toEqual({ a: 1, b: { c: [{}] } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
  })
  it('names the syntax problem', () => {
    expect(() => parseJson('{nope')).toThrow(/valid JSON/)
  })
})
