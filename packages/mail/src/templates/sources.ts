import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MailError } from '../errors.ts'

/**
 * One template's sources: any of subject, html (or MJML) and text, each Handlebars. `layout`
 * names the layout the HTML is wrapped in (`null`: none; undefined: the default layout).
 */
export interface TemplateSource {
  readonly subject?: string | undefined
  readonly html?: string | undefined
  /** MJML markup with Handlebars in its text; compiled to HTML once, then rendered like html. */
  readonly mjml?: string | undefined
  readonly text?: string | undefined
  readonly layout?: string | null | undefined
}

/** A layout: the page around every HTML (and text) body, which it shows with `{{{body}}}`. */
export interface LayoutSource {
  readonly html?: string | undefined
  readonly text?: string | undefined
}

/** The partials and layouts every template may use: stored as one entry in a template cache. */
export interface TemplateBundle {
  readonly partials: Readonly<Record<string, string>>
  readonly layouts: Readonly<Record<string, LayoutSource>>
}

/**
 * What the template cache needs of a `@beaver-kit/cache` Cache: with the cloudflare-kv driver,
 * workers without a file system are served the sources from the edge, keyed by version.
 */
export interface TemplateCache {
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, options?: { ttl?: number }): Promise<void>
  getOrSet<T>(key: string, loader: () => Promise<T>, options?: { ttl?: number }): Promise<T>
}

export interface TemplateSourceOptions {
  dir?: string | undefined
  inline?: Readonly<Record<string, TemplateSource>> | undefined
  partials?: Readonly<Record<string, string>> | undefined
  layouts?: Readonly<Record<string, LayoutSource>> | undefined
  cache?: TemplateCache | undefined
  version: string
  cacheTtlMs: number
}

const NAME = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/i
const LAYOUT_COMMENT = /^\s*\{\{!--\s*layout:\s*([a-z0-9_/-]+)\s*--\}\}\s*\n?/i
const MAX_FILE = 1024 * 1024
const PARTS = ['subject', 'html', 'mjml', 'text'] as const

export function notFound(name: string, where: string): MailError {
  return new MailError('MAIL_TEMPLATE_NOT_FOUND', `No template "${name}" ${where}.`, { details: { template: name } })
}

/** Checks a template name: letters, digits, `_`, `-`, and `/` between folders (no `..`, no absolute paths). */
export function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new MailError(
      'MAIL_TEMPLATE_NOT_FOUND',
      `"${String(name).slice(0, 80)}" is not a template name (letters, digits, _ - and / between folders).`,
      {
        details: { template: String(name).slice(0, 80), field: 'template' },
      },
    )
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    const text = await readFile(path, 'utf8')
    if (text.length > MAX_FILE)
      throw new MailError('MAIL_TEMPLATE_RENDER', `${path} is larger than 1 MiB.`, { details: { field: 'template' } })
    return text
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Splits a leading `{{!-- layout: name --}}` off an HTML source. */
export function layoutOf(html: string): { html: string; layout: string | null | undefined } {
  const m = LAYOUT_COMMENT.exec(html)
  if (!m) return { html, layout: undefined }
  const name = m[1] as string
  return { html: html.slice(m[0].length), layout: name === 'none' ? null : name }
}

async function readDirTemplate(dir: string, name: string): Promise<TemplateSource | undefined> {
  const found: Record<string, string> = {}
  for (const part of PARTS) {
    const text = await readOptional(join(dir, `${name}.${part}.hbs`))
    if (text !== undefined) found[part] = text
  }
  if (Object.keys(found).length === 0) return undefined
  if (found.html !== undefined) {
    const { html, layout } = layoutOf(found.html)
    return { ...found, html, layout }
  }
  return found
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

async function readDirBundle(dir: string): Promise<TemplateBundle> {
  const partials: Record<string, string> = {}
  const layouts: Record<string, { html?: string; text?: string }> = {}
  for (const file of await listFiles(join(dir, 'partials'))) {
    const m = /^([a-z0-9_-]+)(\.html)?\.hbs$/i.exec(file)
    if (m) partials[m[1] as string] = (await readOptional(join(dir, 'partials', file))) ?? ''
  }
  for (const file of await listFiles(join(dir, 'layouts'))) {
    const m = /^([a-z0-9_-]+)\.(html|text)\.hbs$/i.exec(file)
    if (!m) continue
    const layout = (layouts[m[1] as string] ??= {})
    layout[m[2] as 'html' | 'text'] = (await readOptional(join(dir, 'layouts', file))) ?? ''
  }
  return { partials, layouts }
}

/**
 * Where template sources come from: inline sources, then the directory; with a template
 * cache, every source goes through it under `mail:tpl:<version>:…`, so a fleet reads one copy
 * and a version bump invalidates them all at once.
 */
export class TemplateSources {
  readonly #o: TemplateSourceOptions
  constructor(options: TemplateSourceOptions) {
    this.#o = options
  }

  #key(what: string): string {
    return `mail:tpl:${this.#o.version}:${what}`
  }

  async #local(name: string): Promise<TemplateSource | undefined> {
    const inline = this.#o.inline && Object.hasOwn(this.#o.inline, name) ? this.#o.inline[name] : undefined
    if (inline) return inline
    return this.#o.dir === undefined ? undefined : readDirTemplate(this.#o.dir, name)
  }

  async #localBundle(): Promise<TemplateBundle> {
    const fromDir = this.#o.dir === undefined ? { partials: {}, layouts: {} } : await readDirBundle(this.#o.dir)
    return {
      partials: { ...fromDir.partials, ...this.#o.partials },
      layouts: { ...fromDir.layouts, ...this.#o.layouts },
    }
  }

  async template(name: string): Promise<TemplateSource> {
    checkName(name)
    const { cache, cacheTtlMs } = this.#o
    const where = this.#o.dir === undefined ? 'among the inline templates' : `in ${this.#o.dir} or the inline templates`
    if (!cache) {
      const source = await this.#local(name)
      if (!source) throw notFound(name, where)
      return source
    }
    return cache.getOrSet(
      this.#key(`t:${name}`),
      async () => {
        const source = await this.#local(name)
        if (!source) throw notFound(name, `${where}, nor in the template cache (version ${this.#o.version})`)
        return source
      },
      { ttl: cacheTtlMs },
    )
  }

  async bundle(): Promise<TemplateBundle> {
    const { cache, cacheTtlMs } = this.#o
    if (!cache) return this.#localBundle()
    return cache.getOrSet(this.#key('bundle'), () => this.#localBundle(), { ttl: cacheTtlMs })
  }

  /** Every template name the directory and the inline set hold (sorted). */
  async names(): Promise<string[]> {
    const names = new Set(Object.keys(this.#o.inline ?? {}))
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) {
          if (prefix === '' && (entry.name === 'partials' || entry.name === 'layouts')) continue
          await walk(join(dir, entry.name), `${prefix}${entry.name}/`)
        } else {
          const m = /^(.+)\.(subject|html|mjml|text)\.hbs$/.exec(entry.name)
          if (m && NAME.test(`${prefix}${m[1]}`)) names.add(`${prefix}${m[1]}`)
        }
      }
    }
    if (this.#o.dir !== undefined) await walk(this.#o.dir, '')
    return [...names].sort()
  }

  /** Writes every local source (and the partials and layouts) to the template cache; returns how many templates. */
  async publish(): Promise<number> {
    const { cache, cacheTtlMs } = this.#o
    if (!cache)
      throw new MailError(
        'MAIL_OPTIONS_INVALID',
        'publishTemplates() needs a template cache: createMailer({ templates: { cache } }).',
      )
    const names = await this.names()
    await cache.set(this.#key('bundle'), await this.#localBundle(), { ttl: cacheTtlMs })
    for (const name of names) await cache.set(this.#key(`t:${name}`), await this.#local(name), { ttl: cacheTtlMs })
    return names.length
  }

  /** The cache key of a compiled source (MJML's HTML) by the hash of what it was compiled from. */
  compiledKey(name: string, sourceHash: string): string {
    return this.#key(`c:${name}:${sourceHash}`)
  }

  /** The cache key of one rendered result. */
  renderKey(name: string, dataHash: string): string {
    return this.#key(`r:${name}:${dataHash}`)
  }
}
