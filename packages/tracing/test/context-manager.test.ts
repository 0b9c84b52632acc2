import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api'
import { kitContextManager } from '@beaver-kit/tracing'

const key = createContextKey('test')
const ctx = ROOT_CONTEXT.setValue(key, 'a')

describe('the kit context manager', () => {
  it('runs with a context, binds functions and emitters to one, and attaches/detaches', async () => {
    const manager = kitContextManager().enable()
    expect(manager.active()).toBe(ROOT_CONTEXT)
    expect(
      manager.with(
        ctx,
        function (this: { n: number }, x: number) {
          return [manager.active().getValue(key), this.n, x]
        },
        { n: 1 },
        2,
      ),
    ).toEqual(['a', 1, 2])
    const bound = manager.bind(ctx, () => manager.active().getValue(key))
    expect(bound()).toBe('a')
    const emitter = manager.bind(ctx, new EventEmitter())
    const seen = new Promise((resolve) => emitter.on('x', () => resolve(manager.active().getValue(key))))
    emitter.emit('x')
    expect(await seen).toBe('a')
    const token = manager.attach(ctx)
    expect(manager.active().getValue(key)).toBe('a')
    token.dispose()
    token.dispose()
    expect(manager.active()).toBe(ROOT_CONTEXT)
    manager.disable()
    expect(manager.storage.getStore()).toBeUndefined()
  })
})
