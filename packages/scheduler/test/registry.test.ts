import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createScheduler,
  defineSchedulerStore,
  initScheduler,
  registerSchedulerStore,
  resetScheduler,
  scheduler,
  schedulerStoreNames,
  withPrefix,
} from '@beaver-kit/scheduler'
import { MemoryStore, memoryStore } from '@beaver-kit/scheduler/memory'
import { mysqlStore, postgresStore, sqliteStore } from '@beaver-kit/scheduler/sql'
import { redisStore } from '@beaver-kit/scheduler/redis'

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional: boolean }>
}

describe('the instance surface and the store registry', () => {
  afterEach(() => resetScheduler())

  it('builds the default lazily, refuses init once it exists, and reads another prefix', async () => {
    const first = scheduler()
    expect(scheduler()).toBe(first)
    expect(() => initScheduler()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
    await using other = withPrefix('OTHER_', { env: { OTHER_SCHEDULER_TIMEZONE: 'Europe/Paris' } })
    const d = other.describe()
    expect(d.envPrefix).toBe('OTHER_')
    expect(d.settings.find((s) => s.name === 'OTHER_SCHEDULER_TIMEZONE')?.value).toBe('Europe/Paris')
  })

  it('names the variable and the known stores for an unknown store, with a suggestion', () => {
    expect(() => createScheduler({ env: { BEAVER_SCHEDULER_STORE: 'reddis' } })).toThrow(
      /BEAVER_SCHEDULER_STORE is "reddis".*memory.*redis.*did you mean "redis"/,
    )
    expect(() => createScheduler({ env: { BEAVER_SCHEDULER_MISSED: 'sometimes' } })).toThrow(/BEAVER_SCHEDULER_MISSED/)
    expect(() => createScheduler({ env: { BEAVER_SCHEDULER_MAX_CATCHUP: '0' } })).toThrow(
      /BEAVER_SCHEDULER_MAX_CATCHUP/,
    )
  })

  it('masks the Redis password in describe()', () => {
    const d = createScheduler({ envPrefix: false, store: 'redis', redis: { password: 'hunter2' } }).describe()
    expect(JSON.stringify(d)).not.toContain('hunter2')
    expect(d.state).toMatchObject({ store: 'redis', scope: 'every instance sharing the store' })
  })

  it('registers a third-party store by definition or loader', async () => {
    const shared = new MemoryStore()
    registerSchedulerStore('shared-memory', defineSchedulerStore({ name: 'shared-memory', create: () => shared }))
    registerSchedulerStore('lazy-memory', async () => memoryStore)
    expect(schedulerStoreNames()).toEqual(
      expect.arrayContaining(['memory', 'sqlite', 'redis', 'shared-memory', 'lazy-memory']),
    )
    await using a = createScheduler({ envPrefix: false, store: 'shared-memory' })
    await a.ready()
    await a.pause('x')
    expect((await shared.controls()).get('x')?.paused).toBe(true)
    await using b = createScheduler({ envPrefix: false, store: 'lazy-memory' })
    await b.ready()
    await using c = createScheduler({ envPrefix: false, store: memoryStore })
    expect(c.store).toBe('memory')
    await c.ready()
  })

  it('declares every store peer as an optional peer dependency', () => {
    for (const def of [memoryStore, sqliteStore, postgresStore, mysqlStore, redisStore]) {
      for (const peer of def.peers ?? []) {
        expect(manifest.peerDependencies[peer], `${def.name} needs ${peer}`).toBeDefined()
        expect(manifest.peerDependenciesMeta[peer]?.optional).toBe(true)
      }
    }
  })

  it('refuses a SQL store whose database speaks another dialect, naming the fix', async () => {
    await using s = createScheduler({ envPrefix: false, store: 'postgres', db: { url: 'sqlite::memory:' } })
    await expect(s.ready()).rejects.toThrow(/BEAVER_SCHEDULER_STORE is "postgres" but its database speaks sqlite/)
    const health = await s.health()
    expect(health).toMatchObject({ ok: false, store: 'postgres' })
    expect(health.error).toMatch(/speaks sqlite/)
  })
})
