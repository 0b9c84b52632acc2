import type { HelperOptions } from 'handlebars'

/** Settings of the built-in helpers. */
export interface HelperSettings {
  /** BCP 47 locale of dates and money. Default en-US. */
  locale: string
  /** IANA time zone of dates. Default UTC. */
  timeZone: string
}

type Helper = (...args: unknown[]) => unknown

const DATE_STYLES = new Set(['full', 'long', 'medium', 'short'])

function hashOf(args: unknown[]): Record<string, unknown> {
  const last = args[args.length - 1] as HelperOptions | undefined
  return (last && typeof last === 'object' && 'hash' in last ? (last.hash as Record<string, unknown>) : undefined) ?? {}
}

// Handlebars passes its options object last; the positional arguments are what comes before.
const positional = (args: unknown[]): unknown[] => args.slice(0, -1)

/**
 * The helpers every template has: `formatDate`, `formatMoney`, `truncate`, `uppercase`,
 * `lowercase`, `default`, `eq`. Intl formatters are built once per (locale, options) and
 * kept, so a helper call costs a map lookup and a format.
 * @example {{formatDate order.date "long"}} · {{formatMoney total "EUR"}} · {{truncate note 80}}
 */
export function builtinHelpers(settings: HelperSettings): Record<string, Helper> {
  const formatters = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>()
  const cached = <F extends Intl.DateTimeFormat | Intl.NumberFormat>(key: string, make: () => F): F => {
    let f = formatters.get(key) as F | undefined
    if (!f) {
      if (formatters.size > 256) formatters.clear()
      f = make()
      formatters.set(key, f)
    }
    return f
  }
  return {
    formatDate(...args) {
      const [value, style] = positional(args)
      const { locale = settings.locale, timeZone = settings.timeZone } = hashOf(args) as {
        locale?: string
        timeZone?: string
      }
      const date = value instanceof Date ? value : new Date(value as string | number)
      if (Number.isNaN(date.getTime())) throw new TypeError(`formatDate: ${String(value)} is not a date`)
      if (style === 'iso') return date.toISOString()
      const dateStyle = typeof style === 'string' && DATE_STYLES.has(style) ? style : 'medium'
      return cached(
        `d|${locale}|${timeZone}|${dateStyle}`,
        () => new Intl.DateTimeFormat(locale, { dateStyle: dateStyle as 'medium', timeZone }),
      ).format(date)
    },
    formatMoney(...args) {
      const [amount, currency = 'USD'] = positional(args)
      const { locale = settings.locale } = hashOf(args) as { locale?: string }
      const n = typeof amount === 'number' ? amount : Number(amount)
      if (!Number.isFinite(n)) throw new TypeError(`formatMoney: ${String(amount)} is not a number`)
      return cached(
        `m|${locale}|${String(currency)}`,
        () => new Intl.NumberFormat(locale, { style: 'currency', currency: String(currency) }),
      ).format(n)
    },
    truncate(...args) {
      const [value, length = 100, ellipsis = '…'] = positional(args)
      const text = value === undefined || value === null ? '' : String(value)
      const max = Number(length)
      const chars = [...text]
      return chars.length <= max
        ? text
        : `${chars
            .slice(0, Math.max(0, max - String(ellipsis).length))
            .join('')
            .trimEnd()}${String(ellipsis)}`
    },
    uppercase: (...args) => String(positional(args)[0] ?? '').toUpperCase(),
    lowercase: (...args) => String(positional(args)[0] ?? '').toLowerCase(),
    default(...args) {
      const [value, fallback] = positional(args)
      return value === undefined || value === null || value === '' ? fallback : value
    },
    eq: (...args) => {
      const [a, b] = positional(args)
      return a === b
    },
  }
}
