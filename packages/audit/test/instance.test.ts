import { afterEach, describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { audit, createAudit, initAudit, isAuditError, resetAudit, withPrefix } from '@beaver-kit/audit'

describe('the audit instance surface', () => {
  afterEach(() => resetAudit())

  it('builds the default lazily and refuses init once it exists', async () => {
    initAudit({ store: 'memory' })
    const first = audit()
    expect(audit()).toBe(first)
    expect(first.store).toBe('memory')
    expect(() => initAudit()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
    expect((await first.record({ action: 'a' })).stream).toBe('default')
  })

  it('defaults to the database store, and reads another env prefix with withPrefix', async () => {
    expect(createAudit({ envPrefix: false }).store).toBe('database')
    await using other = withPrefix('OTHER_', { env: { OTHER_AUDIT_STORE: 'memory', OTHER_AUDIT_STREAM: 'ops' } })
    expect(other.store).toBe('memory')
    expect((await other.record({ action: 'deploy' })).stream).toBe('ops')
    expect(other.describe().envPrefix).toBe('OTHER_')
  })

  it('masks the anchor key in describe() and names the variable of a bad value', () => {
    const d = createAudit({ envPrefix: false, store: 'memory', anchor: { key: 'super-secret-anchor-key' } }).describe()
    expect(d.package).toBe('audit')
    expect(JSON.stringify(d)).not.toContain('super-secret-anchor-key')
    expect(d.settings.map((s) => s.name)).toContain('AUDIT_ANCHOR_KEY')
    let error: unknown
    try {
      createAudit({ env: { BEAVER_AUDIT_STORE: 'redis' } })
    } catch (e) {
      error = e
    }
    expect(isConfigError(error)).toBe(true)
    expect(String((error as Error).message)).toContain('BEAVER_AUDIT_STORE')
  })

  it('refuses a trail that would keep records nowhere', () => {
    expect(() => createAudit({ envPrefix: false, store: 'none' })).toThrow(
      expect.objectContaining({ code: 'AUDIT_OPTIONS_INVALID', message: expect.stringContaining('AUDIT_LOG') }),
    )
  })

  it('is closed for good once closed', async () => {
    const a = createAudit({ envPrefix: false, store: 'memory' })
    await a.close()
    await a.close()
    let error: unknown
    try {
      await a.record({ action: 'late' })
    } catch (e) {
      error = e
    }
    expect(isAuditError(error, 'AUDIT_CLOSED')).toBe(true)
    expect(a.describe().state).toMatchObject({ closed: true })
  })
})
