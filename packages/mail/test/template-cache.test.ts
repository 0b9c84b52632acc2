// Template caching through real @beaver-kit/cache instances: the memory driver, and the
// cloudflare-kv driver against testkit's local KV emulator. Sources, MJML compiled to HTML and
// rendered results all live under the template version, so a bump invalidates every copy.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, type Cache } from '@beaver-kit/cache'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { startKvEmulator, type KvEmulator } from '@beaver-kit/testkit/cache-servers'
import { createMailer, type TemplateCache } from '@beaver-kit/mail'

const NEWS_MJML =
  '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>'
let dir: string
let kv: KvEmulator
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-mail-tpl-cache-'))
  await mkdir(join(dir, 'layouts'))
  await mkdir(join(dir, 'partials'))
  const files: Record<string, string> = {
    'welcome.subject.hbs': 'Welcome, {{user.name}}!',
    'welcome.html.hbs': '<p>Hello {{user.name}}</p><p>{{> button url=link label="Start"}}</p>',
    'layouts/main.html.hbs': '<html><body>{{{body}}}</body></html>',
    'partials/button.hbs': '<a class="btn" href="{{url}}">{{label}}</a>',
    'news.subject.hbs': 'News for {{name}}',
    'news.mjml.hbs': NEWS_MJML,
  }
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
  kv = await startKvEmulator()
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
  await kv.stop()
})

const caches: Record<string, (namespace: string) => Cache> = {
  memory: (namespace) => createCache({ envPrefix: false, driver: 'memory', namespace }),
  'cloudflare-kv (local emulator)': (namespace) =>
    createCache({
      namespace,
      env: {
        BEAVER_CACHE_DRIVER: 'cloudflare-kv',
        BEAVER_CACHE_CLOUDFLARE_KV_ACCOUNT_ID: kv.accountId,
        BEAVER_CACHE_CLOUDFLARE_KV_NAMESPACE_ID: kv.namespaceId,
        BEAVER_CACHE_CLOUDFLARE_KV_API_TOKEN: kv.apiToken,
        BEAVER_CACHE_CLOUDFLARE_KV_API_BASE: kv.apiBase,
      },
    }),
}

const mailer = (cache: Cache, version: string, withFiles: boolean, cacheRendered = false) =>
  createMailer({
    envPrefix: false,
    driver: 'memory',
    templates: {
      ...(withFiles ? { dir } : {}),
      layout: 'main',
      cache: cache as TemplateCache,
      version,
      cacheRendered,
    },
  })

const mjmlKey = (version: string) =>
  `mail:tpl:${version}:c:news:${createHash('sha256').update(NEWS_MJML).digest('base64url')}`

for (const [driver, makeCache] of Object.entries(caches)) {
  describe(`template cache on ${driver}`, () => {
    it('serves sources and compiled MJML to a mailer without the files, and a version bump invalidates them', async () => {
      // A memory cache is per process: the publisher and the edge share one instance here,
      // as two workers share one KV namespace.
      await using shared = makeCache(uniqueNamespace('tpl'))
      await using publisher = mailer(shared, '3', true)
      expect(await publisher.publishTemplates()).toBe(2)
      const compiled = await shared.get(mjmlKey('3'))
      expect(String(compiled)).toContain('<!doctype html>')

      // The edge renders the compiled HTML it finds in the cache: changed there, it shows the change,
      // which proves it did not compile the MJML again.
      await shared.set(mjmlKey('3'), String(compiled).replace('Hi {{name}}', 'Hello from the cache, {{name}}'))
      await using edge = mailer(shared, '3', false)
      const news = await edge.render('news', { name: 'Ada & co' })
      expect(news.subject).toBe('News for Ada & co')
      expect(news.html).toContain('Hello from the cache, Ada &amp; co')
      const welcome = await edge.render('welcome', { user: { name: 'Ada' }, link: 'https://e.x' })
      expect(welcome.html).toBe(
        '<html><body><p>Hello Ada</p><p><a class="btn" href="https://e.x">Start</a></p></body></html>',
      )

      // Version 4 sees none of version 3's entries until it is published.
      await using next = mailer(shared, '4', false)
      await expect(next.render('welcome', { user: { name: 'Ada' }, link: 'x' })).rejects.toMatchObject({
        code: 'MAIL_TEMPLATE_NOT_FOUND',
      })
      expect(await shared.get(mjmlKey('4'))).toBeUndefined()
    })

    it('caches rendered results by data under the version', async () => {
      await using shared = makeCache(uniqueNamespace('tpl'))
      await using first = mailer(shared, '5', true, true)
      const data = { user: { name: 'Grace' }, link: 'https://e.x/1' }
      const rendered = await first.render('welcome', data)

      // The result sits under the version and a hash of the data; another mailer is served
      // that entry (changed here, it shows the change), and other data renders anew.
      const key = `mail:tpl:5:r:welcome:${createHash('sha256').update(JSON.stringify(data)).digest('base64url')}`
      expect(await shared.get(key)).toEqual(rendered)
      await shared.set(key, { ...rendered, subject: 'From the cache' })
      await using other = mailer(shared, '5', false, true)
      expect((await other.render('welcome', data)).subject).toBe('From the cache')
      expect((await other.render('welcome', { ...data, user: { name: 'Ada' } })).subject).toBe('Welcome, Ada!')
      // A bumped version does not serve the old rendered result.
      await using bumped = mailer(shared, '6', false, true)
      await expect(bumped.render('welcome', data)).rejects.toMatchObject({ code: 'MAIL_TEMPLATE_NOT_FOUND' })
    })
  })
}

it('a publish step fails on MJML that does not compile, naming the template', async () => {
  const bad = await mkdtemp(join(tmpdir(), 'beaver-mail-tpl-bad-'))
  try {
    await writeFile(
      join(bad, 'promo.mjml.hbs'),
      '<mjml><mj-body><mj-section><mj-text>not in a column</mj-text></mj-section></mj-body></mjml>',
    )
    await using cache = createCache({ envPrefix: false, driver: 'memory' })
    await using m = createMailer({
      envPrefix: false,
      driver: 'memory',
      templates: { dir: bad, cache: cache as TemplateCache },
    })
    await expect(m.publishTemplates()).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_RENDER',
      details: { template: 'promo', field: 'template.mjml' },
    })
  } finally {
    await rm(bad, { recursive: true, force: true })
  }
})
