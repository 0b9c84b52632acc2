import { afterEach, describe, expect, it } from 'vitest'
import { createQueue, queue, initQueue, resetQueue, withPrefix } from '@beaver-kit/queue'

describe('the queue instance surface', () => {
  afterEach(() => resetQueue())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = queue()
    expect(queue()).toBe(first)
    expect(() => initQueue()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createQueue({ envPrefix: false }).describe()
    expect(d.package).toBe('queue')
    expect(d.settings.map((s) => s.name)).toContain('QUEUE_DRIVER')
  })
})
