import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMailer, isMailError, type TemplateCache } from '@beaver-kit/mail'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-mail-tpl-'))
  const files: Record<string, string> = {
    'welcome.subject.hbs': 'Welcome, {{user.name}}!',
    'welcome.html.hbs': '<p>Hello {{user.name}}</p><p>{{> button url=link label="Start"}}</p>',
    'invoice.subject.hbs': 'Invoice {{number}} — {{formatMoney total "EUR" locale="de-DE"}}',
    'invoice.html.hbs':
      '{{!-- layout: none --}}<h1>{{formatDate date "long"}}</h1><p>{{truncate note 12}}</p><p>{{uppercase status}} {{default missing "n/a"}}{{#if (eq status "paid")}} ✓{{/if}}</p>',
    'invoice.text.hbs': 'Total {{formatMoney total "USD"}} on {{formatDate date "iso"}}',
    'auth/reset.subject.hbs': 'Reset your password',
    'auth/reset.text.hbs': 'Use {{{link}}} within {{minutes}} minutes.',
    'broken.html.hbs': '<p>{{#if}}</p>',
    'layouts/main.html.hbs':
      '<html><body><header>Beaver</header>{{{body}}}<footer>Bye {{user.name}}</footer></body></html>',
    'layouts/main.text.hbs': '== Beaver ==\n{{{body}}}\n-- bye',
    'partials/button.hbs': '<a class="btn" href="{{url}}">{{label}}</a>',
    'news.mjml.hbs':
      '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>',
    'badmjml.mjml.hbs': '<mjml><mj-body><mj-section><mj-text>not in a column</mj-text></mj-section></mj-body></mjml>',
  }
  await mkdir(join(dir, 'layouts'))
  await mkdir(join(dir, 'partials'))
  await mkdir(join(dir, 'auth'))
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const mailerWith = (extra: Parameters<typeof createMailer>[0] = {}) =>
  createMailer({
    envPrefix: false,
    driver: 'memory',
    from: 'app@example.com',
    templates: { dir, layout: 'main' },
    ...extra,
  })

describe('templates', () => {
  it('renders subject, html in its layout with partials escaped, and text derived from the html', async () => {
    await using mailer = mailerWith()
    const out = await mailer.render('welcome', { user: { name: 'Ada <script>' }, link: 'https://example.com/?a=1&b=2' })
    expect(out.subject).toBe('Welcome, Ada <script>!')
    expect(out.html).toBe(
      '<html><body><header>Beaver</header><p>Hello Ada &lt;script&gt;</p><p><a class="btn" href="https://example.com/?a&#x3D;1&amp;b&#x3D;2">Start</a></p><footer>Bye Ada &lt;script&gt;</footer></body></html>',
    )
    expect(out.text).toContain('Hello Ada <script>')
    expect(out.text).toContain('Start [https://example.com/?a=1&b=2]')
  })

  it('gives helpers: money, dates, truncate, uppercase, default, eq; and a text template in no layout', async () => {
    await using mailer = mailerWith()
    const out = await mailer.render('invoice', {
      number: 7,
      total: 1234.5,
      date: new Date('2026-03-04T10:00:00Z'),
      note: 'a very long note indeed',
      status: 'paid',
    })
    expect(out.subject).toBe('Invoice 7 — 1.234,50\u00a0€')
    expect(out.html).toBe('<h1>March 4, 2026</h1><p>a very long…</p><p>PAID n/a ✓</p>')
    expect(out.text).toBe('Total $1,234.50 on 2026-03-04T10:00:00.000Z')
  })

  it('finds templates in sub-folders, and text-only templates get the text layout', async () => {
    await using mailer = mailerWith()
    const out = await mailer.render('auth/reset', { link: 'https://x.example/r?t=1&u=2', minutes: 30 })
    expect(out.html).toBeUndefined()
    expect(out.text).toBe('== Beaver ==\nUse https://x.example/r?t=1&u=2 within 30 minutes.\n-- bye')
  })

  it('sends a templated message, explicit fields winning', async () => {
    await using mailer = mailerWith()
    await mailer.send({
      to: 'ada@example.com',
      template: 'welcome',
      data: { user: { name: 'Ada' }, link: 'https://e.x' },
    })
    await mailer.send({
      to: 'ada@example.com',
      subject: 'Custom',
      template: 'welcome',
      data: { user: { name: 'Ada' }, link: 'https://e.x' },
    })
    expect(mailer.sent().map((m) => m.subject)).toEqual(['Welcome, Ada!', 'Custom'])
    expect(mailer.sent()[0]?.html).toContain('<header>Beaver</header>')
  })

  it('fails a render in strict mode naming the missing variable, and sends nothing', async () => {
    await using mailer = mailerWith()
    const error = await mailer
      .send({ to: 'ada@example.com', template: 'welcome', data: { link: 'x' } })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_TEMPLATE_RENDER')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe('data.user.name')
    expect((error as Error).message).toContain('"user.name"')
    expect(mailer.sent()).toHaveLength(0)
  })

  it('renders a missing variable as empty when strict mode is off', async () => {
    await using mailer = mailerWith({ templates: { dir, layout: 'main', strict: false } })
    const out = await mailer.render('welcome', { link: 'x' })
    expect(out.subject).toBe('Welcome, !')
  })

  it('reports unknown templates, unsafe names, unknown layouts and syntax errors', async () => {
    await using mailer = mailerWith()
    await expect(mailer.render('nope')).rejects.toMatchObject({ code: 'MAIL_TEMPLATE_NOT_FOUND' })
    await expect(mailer.render('../etc/passwd')).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_NOT_FOUND',
      details: { field: 'template' },
    })
    await expect(mailer.render('broken')).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_RENDER',
      details: { field: 'template.html' },
    })
    await using other = mailerWith({ templates: { dir, layout: 'missing' } })
    await expect(other.render('welcome', { user: { name: 'x' }, link: 'y' })).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_NOT_FOUND',
      details: { layout: 'missing' },
    })
    await expect(
      mailer.render('invoice', { number: 1, total: 'lots', date: new Date(), note: '', status: '' }),
    ).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_RENDER',
      details: { field: 'template.subject' },
    })
  })

  it('takes inline templates, partials, layouts and helpers from code', async () => {
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'memory',
      templates: {
        inline: { hello: { subject: 'Hi {{shout name}}', html: '{{> sig}}', layout: 'frame' } },
        partials: { sig: '<i>{{name}}</i>' },
        layouts: { frame: { html: '<div>{{{body}}}</div>' } },
        helpers: { shout: (value: unknown) => String(value).toUpperCase() },
      },
    })
    expect(await mailer.render('hello', { name: 'ada' })).toEqual({
      subject: 'Hi ADA',
      html: '<div><i>ada</i></div>',
      text: 'ada',
    })
  })

  it('finds the helpers a template calls wherever they are: partials (named or dynamic), layouts, blocks, subexpressions', async () => {
    // Each template gets only the helpers it names; a helper reached through a partial or a
    // layout must still be there.
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'memory',
      templates: {
        inline: {
          named: { subject: 'S', html: '{{> loud}}', layout: 'framed' },
          dynamic: { subject: 'S', html: '{{> (lookup . "which")}}', text: 'T' },
          nested: { subject: '{{truncate (shout name) 3}}', html: '{{#if (eq name "ada")}}{{shout name}}{{/if}}' },
        },
        partials: { loud: '<b>{{shout name}}</b>', plain: '<i>{{name}}</i>' },
        layouts: { framed: { html: '<div>{{uppercase "x"}}{{{body}}}</div>' } },
        helpers: { shout: (value: unknown) => `${String(value).toUpperCase()}!` },
      },
    })
    expect((await mailer.render('named', { name: 'ada' })).html).toBe('<div>X<b>ADA!</b></div>')
    expect((await mailer.render('dynamic', { name: 'ada', which: 'loud' })).html).toBe('<b>ADA!</b>')
    expect(await mailer.render('nested', { name: 'ada' })).toMatchObject({ subject: 'AD…', html: 'ADA!' })
  })

  it('compiles MJML once into HTML, and refuses invalid MJML', async () => {
    await using mailer = mailerWith()
    const out = await mailer.render('news', { name: 'Ada & co' })
    expect(out.html).toContain('<!doctype html>')
    expect(out.html).toContain('Hi Ada &amp; co')
    await expect(mailer.render('badmjml')).rejects.toMatchObject({
      code: 'MAIL_TEMPLATE_RENDER',
      details: { field: 'template.mjml' },
    })
  })
})

describe('template cache (sources and rendered results; the cache drivers are in template-cache.test.ts)', () => {
  it('reads each source from the cache once, then renders from the compiled template', async () => {
    const calls: string[] = []
    const store = new Map<string, unknown>()
    const cache: TemplateCache = {
      get: async (k) => store.get(k),
      set: async (k, v) => void store.set(k, v),
      async getOrSet<T>(k: string, load: () => Promise<T>) {
        calls.push(k)
        if (!store.has(k)) store.set(k, await load())
        return store.get(k) as T
      },
    }
    await using mailer = mailerWith({ templates: { dir, layout: 'main', cache, cacheRendered: true } })
    const data = { user: { name: 'Ada' }, link: 'x' }
    const a = await mailer.render('welcome', data)
    const b = await mailer.render('welcome', data)
    const c = await mailer.render('welcome', { ...data, link: 'y' })
    expect(b).toEqual(a)
    expect(c.html).not.toEqual(a.html)
    expect(calls.filter((k) => k.includes(':t:welcome'))).toHaveLength(1)
    expect(calls.filter((k) => k.includes(':bundle'))).toHaveLength(1)
    expect(calls.filter((k) => k.includes(':r:welcome:'))).toHaveLength(3)
    expect([...store.keys()].filter((k) => k.includes(':r:welcome:'))).toHaveLength(2)
  })

  it('publishing needs a cache', async () => {
    await using mailer = mailerWith()
    await expect(mailer.publishTemplates()).rejects.toMatchObject({ code: 'MAIL_OPTIONS_INVALID' })
  })
})
