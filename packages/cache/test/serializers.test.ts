import { describe, expect, it } from 'vitest'
import { createCache, jsonSerializer, msgpackSerializer, rawSerializer } from '@beaver-kit/cache'
import { code } from './helpers/error-code.ts'

describe('serializers', () => {
  it('json round-trips special numbers and rejects what it cannot store', () => {
    const v = { nan: Number.NaN, inf: -Infinity, negZero: -0, big: -5n, when: new Date(Number.NaN) }
    const back = jsonSerializer.deserialize(jsonSerializer.serialize(v)) as typeof v
    expect(back.nan).toBeNaN()
    expect(back.inf).toBe(-Infinity)
    expect(Object.is(back.negZero, -0)).toBe(true)
    expect(back.big).toBe(-5n)
    expect(Number.isNaN(back.when.getTime())).toBe(true)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(code(() => jsonSerializer.serialize(cyclic))).toBe('CACHE_SERIALIZE')
    expect(code(() => jsonSerializer.serialize(() => 1))).toBe('CACHE_SERIALIZE')
    expect(code(() => jsonSerializer.deserialize(Buffer.from('{nope')))).toBe('CACHE_DESERIALIZE')
    expect(new TextDecoder().decode(jsonSerializer.serialize({ plain: [1, 'a'] }))).toBe('{"plain":[1,"a"]}')
  })

  it('json reads the same values from text as from bytes (tags found past a "$" that is not one); msgpack and raw read bytes only', async () => {
    const v = { price: '$5', at: new Date(7), tagLike: { $t: 'mine', v: 1 }, ids: new Set(['$t']) }
    const text = jsonSerializer.serializeText?.(v) as string
    expect(jsonSerializer.deserializeText?.(text)).toEqual(v)
    expect(jsonSerializer.deserializeText?.(text)).toEqual(jsonSerializer.deserialize(jsonSerializer.serialize(v)))
    expect(jsonSerializer.deserializeText?.('{"plain":"$$ no tag"}')).toEqual({ plain: '$$ no tag' })
    expect(code(() => jsonSerializer.deserializeText?.('{nope'))).toBe('CACHE_DESERIALIZE')
    expect(rawSerializer.deserializeText).toBeUndefined()
    expect((await msgpackSerializer()).deserializeText).toBeUndefined()
  })

  it('raw stores bytes only; msgpack round-trips rich values (a Map reads back as an object)', async () => {
    expect(rawSerializer.deserialize(rawSerializer.serialize(Buffer.from('hi')))).toEqual(Buffer.from('hi'))
    expect(code(() => rawSerializer.serialize('text'))).toBe('CACHE_SERIALIZE')
    expect(code(() => rawSerializer.serialize(new Uint8Array(0)))).toBe('CACHE_SERIALIZE')
    const mp = await msgpackSerializer()
    const v = {
      d: new Date(5),
      s: new Set([1]),
      b: 2n ** 70n,
      u: new Uint8Array([1, 2]),
      nested: { list: [1, 'two', null] },
    }
    expect(mp.deserialize(mp.serialize(v))).toEqual(v)
    expect(mp.deserialize(mp.serialize({ m: new Map([['a', 1]]) }))).toEqual({ m: { a: 1 } })
    const c = createCache({ envPrefix: false, serializer: 'msgpack', memory: { storage: 'serialized' } })
    await c.set('v', v)
    expect(await c.get('v')).toEqual(v)
    await c.close()
  })
})
