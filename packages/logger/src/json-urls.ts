import pino from 'pino'
import { maskUrlsIn } from '@beaver-kit/config'

const BACKSLASH = 92
const COLON = 58
const { stringifySym, stringifiersSym, redactFmtSym } = pino.symbols

type Stringify = (value: unknown, safe?: unknown) => string | undefined

/**
 * Makes a pino logger (and the children it makes) mask URL credentials in the JSON it writes for
 * an object field or binding (`postgres://****@db`, `?token=****`), at any depth, keys included,
 * and whatever `toJSON` returned. It wraps pino's stringify (`pino.symbols.stringifySym`, which
 * pino exposes for integrations), so the scan runs on the flat text `JSON.stringify` just built:
 * about 40 ns for 1 KiB without a URL, where a scan of the whole line first copies pino's
 * concatenated line (the `hooks.streamWrite` this replaced cost short lines ~10 %), and a check
 * of every nested string before serializing costs ~15 ns a string. Top-level string fields and the
 * message are not written through it: the field walk and the msg serializer mask those.
 */
export function maskUrlsInObjectJson(log: object): void {
  const target = log as unknown as Record<symbol, unknown>
  const stringify = target[stringifySym] as Stringify
  target[stringifySym] = function stringifyMasked(value: unknown, safe?: unknown): string | undefined {
    const json = stringify(value, safe)
    return typeof json === 'string' ? maskUrlsInJson(json) : json
  }
}

/**
 * The same for a child made with pino's own `redact` option, for which pino puts back its own
 * stringify and serializes the redacted fields through stringifiers of their own.
 */
export function maskUrlsInRedactingChild(child: object, parent: object): void {
  const target = child as unknown as Record<symbol, unknown>
  target[stringifySym] = (parent as unknown as Record<symbol, unknown>)[stringifySym]
  const stringifiers = target[stringifiersSym] as Record<symbol | string, Stringify | undefined>
  for (const key of Reflect.ownKeys(stringifiers)) {
    const own = stringifiers[key]
    if (key === redactFmtSym || typeof own !== 'function') continue
    stringifiers[key] = (value, safe) => {
      const json = own(value, safe)
      return typeof json === 'string' ? maskUrlsInJson(json) : json
    }
  }
}

/**
 * JSON text with the credentials of every URL in its strings masked, string by string, as
 * `maskUrlsIn` masks each. A URL with credentials always holds `://`, which JSON can only hold
 * inside a string (a key or a value), so a text without it is returned as it is after one scan.
 * Each string that holds `://` is decoded, masked and encoded again only when masking changed it.
 */
export function maskUrlsInJson(json: string): string {
  let at = schemeEnd(json, 0)
  if (at === -1) return json
  let out = ''
  let copied = 0
  while (at !== -1) {
    const start = openingQuote(json, at)
    const end = closingQuote(json, at)
    // Not inside a string: not JSON that pino wrote. Mask the whole text rather than nothing.
    if (start === -1 || end === -1) return maskUrlsIn(json)
    const text = JSON.parse(json.slice(start, end + 1)) as string
    const masked = maskUrlsIn(text)
    if (masked !== text) {
      out += json.slice(copied, start) + JSON.stringify(masked)
      copied = end + 1
    }
    at = schemeEnd(json, end + 1)
  }
  return copied === 0 ? json : out + json.slice(copied)
}

// The index of the next "://". Searched as "//", which V8 finds with a memchr-like scan, while a
// search for "://" stops at every ":" (one per key in JSON): ten times slower on 1 KiB.
function schemeEnd(json: string, from: number): number {
  let slashes = json.indexOf('//', from)
  while (slashes > 0 && json.charCodeAt(slashes - 1) !== COLON) slashes = json.indexOf('//', slashes + 1)
  return slashes > 0 ? slashes - 1 : -1
}

// Outside its strings a JSON text has no backslash, so a quote preceded by an odd run of
// backslashes is inside a string (escaped), and any other quote opens or closes one.
function escaped(json: string, quote: number): boolean {
  let run = 0
  for (let i = quote - 1; i >= 0 && json.charCodeAt(i) === BACKSLASH; i--) run++
  return run % 2 === 1
}

function openingQuote(json: string, inside: number): number {
  let q = json.lastIndexOf('"', inside)
  while (q > 0 && escaped(json, q)) q = json.lastIndexOf('"', q - 1)
  return q
}

function closingQuote(json: string, inside: number): number {
  let q = json.indexOf('"', inside)
  while (q !== -1 && escaped(json, q)) q = json.indexOf('"', q + 1)
  return q
}
