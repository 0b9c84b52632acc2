// The dashboard page in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core): it loads behind its auth check, its counts follow jobs as they run, and
// its Retry button moves a dead job back to waiting. Outside CI a missing browser skips.
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, isCI } from '@beaver-kit/testkit'
import { createQueue, type Queue } from '@beaver-kit/queue'
import { createDashboard } from '@beaver-kit/queue/dashboard'

const CHROMIUM = '/usr/bin/chromium'
const present = existsSync(CHROMIUM)
if (!present && isCI()) throw new Error(`CI=true and ${CHROMIUM} is missing: install it (scripts/services.sh does).`)
if (!present)
  console.warn(`[queue] skipping the dashboard browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`)

const wait = { timeoutMs: 15_000 }

describe.runIf(present)('queue dashboard in Chromium', { timeout: 60_000 }, () => {
  let browser: Browser
  let server: Server
  let q: Queue
  let url: string

  beforeAll(async () => {
    q = createQueue({ driver: 'memory', namespace: 'dash-browser', envPrefix: false })
    const dashboard = createDashboard({
      queue: q,
      basePath: '/admin/queues',
      auth: (req) => req.headers.authorization === 'Bearer admin',
      refreshMs: 250,
    })
    server = createServer((req, res) => {
      if (req.url?.startsWith('/admin/queues')) dashboard(req, res)
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/queues`
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise((r) => server?.close(r))
    await q?.close()
  })

  async function adminPage(): Promise<Page> {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: 'Bearer admin' } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(url)
    expect(errors).toEqual([])
    return page
  }

  const count = (page: Page, queue: string, name: string): Promise<string | null> =>
    page.locator(`tr[data-queue="${queue}"] td[data-count="${name}"]`).textContent({ timeout: wait.timeoutMs })

  it('refuses the page without the auth check’s consent', async () => {
    const page = await browser.newPage()
    const res = await page.goto(url)
    expect(res?.status()).toBe(401)
    await page.close()
  })

  it('loads, and its counts change as jobs run', async () => {
    await q.publishBatch('emails', [{ payload: 1 }, { payload: 2 }, { payload: 3 }])
    const page = await adminPage()
    await eventually(async () => expect(await count(page, 'emails', 'waiting')).toBe('3'), wait)
    const release = Promise.withResolvers<void>()
    const c = await q.consume('emails', () => release.promise, { concurrency: 3 })
    await eventually(async () => expect(await count(page, 'emails', 'active')).toBe('3'), wait)
    expect(await count(page, 'emails', 'waiting')).toBe('0')
    release.resolve()
    await eventually(async () => expect(await count(page, 'emails', 'completed')).toBe('3'), wait)
    expect(await count(page, 'emails', 'active')).toBe('0')
    await c.close()
    await page.context().close()
  })

  it('shows the DLQ, and Retry moves a dead job back to waiting; Purge removes one', async () => {
    const c = await q.consume('reports', () => {
      throw new Error('renderer <b>crashed</b>')
    })
    const [retried, purged] = await q.publishBatch('reports', [
      { payload: 'a', attempts: 1 },
      { payload: 'b', attempts: 1 },
    ])
    await eventually(async () => expect((await q.counts('reports')).dead).toBe(2), wait)
    await c.close()
    const page = await adminPage()
    await eventually(async () => expect(await count(page, 'reports', 'dead')).toBe('2'), wait)
    await page.locator('tr[data-queue="reports"]').click()
    const row = page.locator(`#dead tr[data-id="${retried}"]`)
    // The error text is shown as text, never as markup.
    expect(await row.locator('td.error').textContent()).toContain('<b>crashed</b>')
    await row.locator('button[data-action="retry"]').click()
    await eventually(async () => expect(await count(page, 'reports', 'dead')).toBe('1'), wait)
    await eventually(async () => expect(await count(page, 'reports', 'waiting')).toBe('1'), wait)
    expect((await q.get('reports', retried as string))?.state).toBe('waiting')
    await page.locator(`#dead tr[data-id="${purged}"] button[data-action="purge"]`).click()
    await eventually(async () => expect(await count(page, 'reports', 'dead')).toBe('0'), wait)
    expect(await q.get('reports', purged as string)).toBeUndefined()
    await page.context().close()
  })
})
