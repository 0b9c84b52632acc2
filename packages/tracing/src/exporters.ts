import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { ConsoleSpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace'
import { importPeer } from '@beaver-kit/core'
import { channels } from './channels.ts'

/** What the OTLP exporter is built from (resolved from BEAVER_TRACING_OTLP_* / OTEL_EXPORTER_OTLP_*). */
export interface OtlpSettings {
  readonly url: string
  readonly protocol: 'http/protobuf' | 'http/json'
  readonly headers: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly compression: 'gzip' | 'none'
}

/** Export counts, as `stats()` reports them. */
export interface ExportStats {
  /** Spans handed to the exporter that it accepted. */
  exported: number
  /** Spans of exports that failed (collector down, refused, timed out). */
  failed: number
  /** Export calls that failed. */
  failures: number
}

/** The traces URL: the explicit one, or `<endpoint>/v1/traces`, or the local collector's default. */
export function otlpTracesUrl(endpoint: string | undefined, tracesEndpoint: string | undefined): string {
  if (tracesEndpoint !== undefined) return tracesEndpoint
  const base = endpoint ?? 'http://localhost:4318'
  return `${base.replace(/\/+$/, '')}/v1/traces`
}

/** `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS) to a header record; values are URL-decoded. */
export function parsePairs(items: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of items) {
    const at = item.indexOf('=')
    if (at <= 0) throw new TypeError(`${what}: "${item.slice(0, 40)}" is not key=value`)
    out[decodeURIComponent(item.slice(0, at).trim())] = decodeURIComponent(item.slice(at + 1).trim())
  }
  return out
}

async function loadOtlp(settings: OtlpSettings): Promise<SpanExporter> {
  const config = {
    url: settings.url,
    headers: { ...settings.headers },
    timeoutMillis: settings.timeoutMs,
    compression: settings.compression,
  } as const
  if (settings.protocol === 'http/json') {
    const { OTLPTraceExporter } = await importPeer(
      '@opentelemetry/exporter-trace-otlp-http',
      () => import('@opentelemetry/exporter-trace-otlp-http'),
      'the OTLP http/json trace exporter',
    )
    return new OTLPTraceExporter(config as never)
  }
  const { OTLPTraceExporter } = await importPeer(
    '@opentelemetry/exporter-trace-otlp-proto',
    () => import('@opentelemetry/exporter-trace-otlp-proto'),
    'the OTLP http/protobuf trace exporter',
  )
  return new OTLPTraceExporter(config as never)
}

/**
 * An exporter that loads its OTLP peer in the background (creating a tracing does no I/O and
 * stays synchronous), counts what it exported and what failed, and publishes
 * `beaver:tracing:exportFailed` so a failing collector is visible without reading OTel's diag log.
 */
export class CountingExporter implements SpanExporter {
  readonly name: string
  readonly stats: ExportStats = { exported: 0, failed: 0, failures: 0 }
  readonly #loaded: Promise<SpanExporter>

  constructor(name: string, load: () => Promise<SpanExporter>) {
    this.name = name
    this.#loaded = load()
    // The failure is reported by ready() and by every export; never an unhandled rejection.
    this.#loaded.catch(() => undefined)
  }

  /** Resolves once the exporter's library is loaded; rejects with CORE_PEER_MISSING when it is not installed. */
  async loaded(): Promise<SpanExporter> {
    return this.#loaded
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const report = (result: ExportResult): void => {
      if (result.code === ExportResultCode.SUCCESS) this.stats.exported += spans.length
      else {
        this.stats.failed += spans.length
        this.stats.failures++
        if (channels.exportFailed.hasSubscribers) {
          channels.exportFailed.publish({ exporter: this.name, spans: spans.length, error: result.error })
        }
      }
      done(result)
    }
    this.#loaded.then(
      (exporter) => exporter.export(spans, report),
      (error: unknown) => report({ code: ExportResultCode.FAILED, error: error as Error }),
    )
  }

  async forceFlush(): Promise<void> {
    const exporter = await this.#loaded.catch(() => undefined)
    await exporter?.forceFlush?.()
  }

  async shutdown(): Promise<void> {
    const exporter = await this.#loaded.catch(() => undefined)
    await exporter?.shutdown()
  }
}

/** The exporter for a resolved `exporter` setting; undefined for `none`. */
export function buildExporter(kind: 'otlp' | 'console' | 'none', otlp: OtlpSettings): CountingExporter | undefined {
  if (kind === 'none') return undefined
  if (kind === 'console') return new CountingExporter('console', async () => new ConsoleSpanExporter())
  return new CountingExporter(`otlp ${otlp.protocol}`, () => loadOtlp(otlp))
}
