import { createHash } from 'node:crypto'
import Handlebars from 'handlebars'
import { convert } from 'html-to-text'
import { importPeer } from '@beaver-kit/core'
import { MailError } from '../errors.ts'
import { builtinHelpers, type HelperSettings } from './helpers.ts'
import { TemplateSources, type LayoutSource, type TemplateCache, type TemplateSource } from './sources.ts'

/** What a template gives a message. */
export interface RenderedMail {
  readonly subject: string | undefined
  readonly html: string | undefined
  readonly text: string | undefined
}

export interface TemplateOptions {
  dir?: string | undefined
  inline?: Readonly<Record<string, TemplateSource>> | undefined
  partials?: Readonly<Record<string, string>> | undefined
  layouts?: Readonly<Record<string, LayoutSource>> | undefined
  /** Your own helpers, beside formatDate, formatMoney, truncate, uppercase, lowercase, default, eq. */
  helpers?: Readonly<Record<string, (...args: never[]) => unknown>> | undefined
  /** A `@beaver-kit/cache` Cache for template sources (and rendered results with `cacheRendered`). */
  cache?: TemplateCache | undefined
  /** Cache rendered results by (template, data) in the template cache, for mail sent many times with the same data. */
  cacheRendered?: boolean | undefined
  strict: boolean
  layout: string | undefined
  version: string
  cacheTtlMs: number
  helperSettings?: Partial<HelperSettings> | undefined
}

interface Compiled {
  (data: unknown): string
  /** The Handlebars source, to name the full path of a missing variable. */
  source: string
}

interface CompiledTemplate {
  subject: Compiled | undefined
  html: Compiled | undefined
  text: Compiled | undefined
  layout: { html: Compiled | undefined; text: Compiled | undefined } | undefined
}

interface Mjml {
  (
    input: string,
    options?: Record<string, unknown>,
  ): { html: string; errors?: unknown[] } | Promise<{ html: string; errors?: unknown[] }>
}

const MISSING = /"([^"]+)" not defined in .* - (\d+):(\d+)/

/**
 * Renders mail templates with Handlebars: HTML escaped by default (`{{{raw}}}` opts out),
 * subject and text unescaped, layouts around the HTML (and text) body, partials, helpers.
 * Each template is compiled once and kept; sources can come from a template cache.
 */
export class TemplateRenderer {
  readonly #o: TemplateOptions
  readonly #sources: TemplateSources
  readonly #hb: typeof Handlebars
  /** The kit's and the caller's helpers, handed to each template that names them (see #helpersOf). */
  readonly #helpers: Readonly<Record<string, Handlebars.HelperDelegate>>
  /** Helper names the partials use: any template that calls a partial gets them too. */
  #partialHelpers: readonly string[] = []
  readonly #compiled = new Map<string, Promise<CompiledTemplate>>()
  /** Templates whose compile finished, for the synchronous render path. */
  readonly #ready = new Map<string, CompiledTemplate>()
  #bundle: Promise<void> | undefined
  #layouts: Readonly<Record<string, LayoutSource>> = {}

  constructor(options: TemplateOptions) {
    this.#o = options
    this.#sources = new TemplateSources(options)
    this.#hb = Handlebars.create()
    const settings: HelperSettings = { locale: 'en-US', timeZone: 'UTC', ...options.helperSettings }
    // Not registered on the environment: Handlebars wraps every registered helper again on
    // each top-level call, so seven unused helpers cost more than the kit's whole render path.
    this.#helpers = { ...builtinHelpers(settings), ...options.helpers } as Record<string, Handlebars.HelperDelegate>
  }

  /** Renders a template's subject, html and text; text is derived from the html when the template has none. */
  render(name: string, data: Readonly<Record<string, unknown>> = {}): Promise<RenderedMail> {
    const { cache, cacheRendered, cacheTtlMs } = this.#o
    if (cache && cacheRendered) {
      const hash = createHash('sha256').update(JSON.stringify(data)).digest('base64url')
      return cache.getOrSet(this.#sources.renderKey(name, hash), () => this.#render(name, data), { ttl: cacheTtlMs })
    }
    // A compiled template renders without waiting on anything: no await on the hot path.
    const ready = this.#ready.get(name)
    if (ready) {
      try {
        return Promise.resolve(renderWith(ready, name, data))
      } catch (err) {
        return Promise.reject(err as Error)
      }
    }
    return this.#render(name, data)
  }

  async #render(name: string, data: Readonly<Record<string, unknown>>): Promise<RenderedMail> {
    return renderWith(await this.#template(name), name, data)
  }

  /** Names of every local template (directory and inline). */
  names(): Promise<string[]> {
    return this.#sources.names()
  }

  /**
   * Writes every local source to the template cache (a deploy step for edge workers), and the
   * HTML of each MJML template compiled, so a worker without mjml renders it; returns how many
   * templates. An MJML template that does not compile fails the step, naming it.
   */
  async publish(): Promise<number> {
    const count = await this.#sources.publish()
    for (const name of await this.#sources.names()) {
      const source = await this.#sources.template(name)
      if (source.mjml !== undefined) await this.#mjmlHtml(name, source.mjml)
    }
    return count
  }

  /**
   * MJML compiled to HTML once; with a template cache, through it under the version and a hash
   * of the MJML, so one compile serves the fleet and an edited source never meets an old result.
   */
  #mjmlHtml(name: string, mjml: string): Promise<string> {
    const { cache, cacheTtlMs } = this.#o
    if (!cache) return compileMjml(name, mjml)
    const hash = createHash('sha256').update(mjml).digest('base64url')
    return cache.getOrSet(this.#sources.compiledKey(name, hash), () => compileMjml(name, mjml), { ttl: cacheTtlMs })
  }

  /** Forgets every compiled template and the partials, so edited files are read again. */
  reload(): void {
    this.#compiled.clear()
    this.#ready.clear()
    this.#bundle = undefined
  }

  #template(name: string): Promise<CompiledTemplate> {
    let pending = this.#compiled.get(name)
    if (!pending) {
      pending = this.#compile(name).then((t) => {
        this.#ready.set(name, t)
        return t
      })
      this.#compiled.set(name, pending)
      // A failed compile (missing file, syntax error) is not kept: the fix is picked up at once.
      pending.catch(() => this.#compiled.delete(name))
    }
    return pending
  }

  #loadBundle(): Promise<void> {
    return (this.#bundle ??= this.#sources.bundle().then(
      (bundle) => {
        const used = new Set<string>()
        for (const [partial, source] of Object.entries(bundle.partials)) {
          this.#hb.registerPartial(partial, source)
          try {
            namesIn(this.#hb.parse(source), this.#helpers, used)
          } catch {
            // A partial that does not parse fails the template that calls it, with Handlebars' message.
          }
        }
        this.#partialHelpers = [...used]
        this.#layouts = bundle.layouts
      },
      (err: unknown) => {
        this.#bundle = undefined
        throw err
      },
    ))
  }

  /**
   * The helpers a source names (and those of every partial when it calls one), or undefined
   * for none: only these are passed to its render. Over-counting is harmless (a path that only
   * shares a helper's name); an unnamed helper cannot be called.
   */
  #helpersOf(source: string): Record<string, Handlebars.HelperDelegate> | undefined {
    const used = new Set<string>()
    const callsPartial = namesIn(this.#hb.parse(source), this.#helpers, used)
    if (callsPartial) for (const name of this.#partialHelpers) used.add(name)
    if (used.size === 0) return undefined
    const helpers: Record<string, Handlebars.HelperDelegate> = {}
    for (const name of used) helpers[name] = this.#helpers[name] as Handlebars.HelperDelegate
    return helpers
  }

  async #compile(name: string): Promise<CompiledTemplate> {
    await this.#loadBundle()
    const source = await this.#sources.template(name)
    const { strict } = this.#o
    const compile = (src: string | undefined, part: string, escape: boolean): Compiled | undefined => {
      if (src === undefined) return undefined
      try {
        // parse() finds syntax errors now; compile() itself is lazy and builds the function
        // on its first call, once, after which every render reuses it.
        this.#hb.parse(src)
      } catch (err) {
        throw new MailError(
          'MAIL_TEMPLATE_RENDER',
          `Template "${name}" (${part}) does not compile: ${(err as Error).message}`,
          {
            cause: err,
            details: { template: name, field: `template.${part}` },
          },
        )
      }
      const template = this.#hb.compile(src, { strict, noEscape: !escape })
      const helpers = this.#helpersOf(src)
      const fn = helpers ? (data: unknown) => template(data, { helpers }) : (data: unknown) => template(data)
      return Object.assign(fn, { source: src })
    }
    let htmlSource = source.html
    if (source.mjml !== undefined) htmlSource = await this.#mjmlHtml(name, source.mjml)
    const layoutName = source.mjml !== undefined ? null : source.layout === undefined ? this.#o.layout : source.layout
    let layout: CompiledTemplate['layout']
    if (layoutName) {
      const l = Object.hasOwn(this.#layouts, layoutName) ? this.#layouts[layoutName] : undefined
      if (!l)
        throw new MailError(
          'MAIL_TEMPLATE_NOT_FOUND',
          `Template "${name}" uses the layout "${layoutName}", which does not exist.`,
          { details: { template: name, layout: layoutName } },
        )
      layout = { html: compile(l.html, 'layout.html', true), text: compile(l.text, 'layout.text', false) }
    }
    return {
      subject: compile(source.subject, 'subject', false),
      html: compile(htmlSource, 'html', true),
      text: compile(source.text, 'text', false),
      layout,
    }
  }
}

/**
 * Adds to `used` every name in the tree that is one of `helpers` (any path expression's head:
 * helpers are called by a one-part path); returns whether the tree calls a partial.
 */
function namesIn(node: unknown, helpers: Readonly<Record<string, unknown>>, used: Set<string>): boolean {
  if (typeof node !== 'object' || node === null) return false
  const n = node as { type?: unknown; parts?: unknown; original?: unknown }
  let partial = n.type === 'PartialStatement' || n.type === 'PartialBlockStatement'
  if (n.type === 'PathExpression') {
    for (const name of [n.original, Array.isArray(n.parts) ? n.parts[0] : undefined]) {
      if (typeof name === 'string' && Object.hasOwn(helpers, name)) used.add(name)
    }
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc') continue
    if (Array.isArray(value)) {
      for (const item of value) partial = namesIn(item, helpers, used) || partial
    } else if (typeof value === 'object' && value !== null) {
      partial = namesIn(value, helpers, used) || partial
    }
  }
  return partial
}

function run(fn: Compiled | undefined, name: string, part: string, input: unknown): string | undefined {
  if (!fn) return undefined
  try {
    return fn(input)
  } catch (err) {
    throw renderError(name, part, err, fn.source)
  }
}

/** One render of a compiled template: subject, html in its layout, text (or text from the html). */
function renderWith(t: CompiledTemplate, name: string, data: Readonly<Record<string, unknown>>): RenderedMail {
  const subject = run(t.subject, name, 'subject', data)?.trim()
  let html = run(t.html, name, 'html', data)
  if (html !== undefined && t.layout?.html) html = run(t.layout.html, name, 'layout.html', { ...data, body: html })
  let text = run(t.text, name, 'text', data)
  if (text !== undefined && t.layout?.text) text = run(t.layout.text, name, 'layout.text', { ...data, body: text })
  if (text === undefined && html !== undefined) text = htmlToText(html)
  return { subject, html, text }
}

/**
 * The full path (`user.name`) of the expression at a line and column: Handlebars names only
 * the last segment of a missing variable, and places its error at the path expression.
 */
function pathAt(hb: typeof Handlebars, source: string, line: number, column: number): string | undefined {
  let found: string | undefined
  const visit = (node: unknown): void => {
    if (found !== undefined || typeof node !== 'object' || node === null) return
    const n = node as { type?: string; original?: unknown; loc?: { start: { line: number; column: number } } }
    if (
      n.type === 'PathExpression' &&
      n.loc?.start.line === line &&
      n.loc.start.column === column &&
      typeof n.original === 'string'
    ) {
      found = n.original
      return
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'loc') continue
      if (Array.isArray(value)) value.forEach(visit)
      else visit(value)
    }
  }
  visit(hb.parse(source))
  return found
}

function renderError(template: string, part: string, err: unknown, source: string): MailError {
  const message = (err as Error).message ?? String(err)
  const missing = MISSING.exec(message)
  if (missing) {
    const variable = pathAt(Handlebars, source, Number(missing[2]), Number(missing[3])) ?? (missing[1] as string)
    return new MailError(
      'MAIL_TEMPLATE_RENDER',
      `Template "${template}" (${part}) uses "${variable}" at line ${missing[2]}, column ${missing[3]}, and the data has none (strict mode). Pass it in data, or use {{#if ${variable}}}.`,
      { cause: err, details: { template, part, field: `data.${variable}` } },
    )
  }
  return new MailError('MAIL_TEMPLATE_RENDER', `Template "${template}" (${part}) failed: ${message}`, {
    cause: err,
    details: { template, part, field: `template.${part}` },
  })
}

/** Plain text from HTML: links kept as `text [url]`, images dropped, lines wrapped at 78. */
export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ],
  }).trim()
}

async function compileMjml(name: string, source: string): Promise<string> {
  // mjml ships no type declarations: the specifier goes through a variable and the shape is stated above.
  const specifier = 'mjml'
  const mod = await importPeer('mjml', () => import(specifier) as Promise<{ default: Mjml }>, 'MJML templates')
  const invalid = (detail: string, cause?: unknown): MailError =>
    new MailError('MAIL_TEMPLATE_RENDER', `Template "${name}" is not valid MJML: ${detail}`, {
      cause,
      details: { template: name, field: 'template.mjml' },
    })
  let result: Awaited<ReturnType<Mjml>>
  try {
    // Strict validation throws (MJML 4 and 5) rather than rendering a broken layout.
    result = await mod.default(source, { validationLevel: 'strict', keepComments: false })
  } catch (err) {
    const errors = (err as { errors?: Array<{ formattedMessage?: string; message?: string }> }).errors
    const first = errors?.[0]
    throw invalid(first?.formattedMessage ?? first?.message ?? (err as Error).message, err)
  }
  const first = result.errors?.[0] as { formattedMessage?: string; message?: string } | undefined
  if (first) throw invalid(first.formattedMessage ?? first.message ?? 'invalid')
  return result.html
}
