import { afterEach, describe, expect, it } from 'vitest'
import { createStorage, storage, initStorage, resetStorage, withPrefix } from '@beaver-kit/storage'

describe('the storage instance surface', () => {
  afterEach(() => resetStorage())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = storage()
    expect(storage()).toBe(first)
    expect(() => initStorage()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createStorage({ envPrefix: false }).describe()
    expect(d.package).toBe('storage')
    expect(d.settings.map((s) => s.name)).toContain('STORAGE_DRIVER')
  })
})
