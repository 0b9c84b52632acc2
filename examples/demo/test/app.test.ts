import { afterEach, describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { startApp, type App } from '../src/app.ts'

describe('Beaver Links demo', () => {
  let app: App | undefined
  afterEach(async () => {
    await app?.close()
    app = undefined
  })

  it('starts on embedded defaults and answers /health', async () => {
    app = await startApp({ port: 0 }, {})
    const res = await fetch(`${app.url}/health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok' })
    expect(app.description).toContain('BEAVER_DEMO_PORT')
  })

  it('rejects a bad port naming the variable', async () => {
    await expect(startApp({}, { BEAVER_DEMO_PORT: 'eighty' })).rejects.toSatisfy(
      (e: unknown) => isConfigError(e) && e.message.includes('BEAVER_DEMO_PORT'),
    )
  })
})
