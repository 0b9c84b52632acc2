import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api'

/** Options of the HTTP server middleware. */
export interface ServerTracingOptions {
  /**
   * The route template of a request (`/users/:id`), for the span name and `http.route`; called
   * when the response ends, so a router has matched by then. Default: Express's
   * `req.baseUrl + req.route.path` when present, otherwise none (the span is named by method).
   */
  route?: (req: IncomingMessage) => string | undefined
  /** Requests not traced at all (health probes): return true to skip. */
  ignore?: (req: IncomingMessage) => boolean
}

type ExpressLike = IncomingMessage & { baseUrl?: string; route?: { path?: unknown } }

function expressRoute(req: IncomingMessage): string | undefined {
  const r = req as ExpressLike
  return typeof r.route?.path === 'string' ? `${r.baseUrl ?? ''}${r.route.path}` : undefined
}

const getter = {
  keys: (headers: IncomingMessage['headers']) => Object.keys(headers),
  get: (headers: IncomingMessage['headers'], key: string) => headers[key],
}

function startServerSpan(req: IncomingMessage): Span {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers, getter)
  const method = req.method ?? 'GET'
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const host = req.headers.host ?? ''
  const colon = host.lastIndexOf(':')
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': q < 0 ? url : url.slice(0, q),
    'url.scheme': encrypted ? 'https' : 'http',
    'server.address': colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host,
    ...(colon > 0 ? { 'server.port': Number(host.slice(colon + 1)) || undefined } : {}),
    ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
    ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
  }
  return trace.getTracer('@beaver-kit/tracing').startSpan(method, { kind: SpanKind.SERVER, attributes }, parent)
}

function endOnResponse(
  span: Span,
  req: IncomingMessage,
  res: ServerResponse,
  route: ServerTracingOptions['route'],
): void {
  let ended = false
  const end = (): void => {
    if (ended) return
    ended = true
    const template = (route ?? expressRoute)(req)
    if (template !== undefined) {
      span.setAttribute('http.route', template)
      span.updateName(`${req.method ?? 'GET'} ${template}`)
    }
    span.setAttribute('http.response.status_code', res.statusCode)
    if (res.statusCode >= 500) {
      span.setAttribute('error.type', String(res.statusCode))
      span.setStatus({ code: SpanStatusCode.ERROR })
    } else if (!res.writableFinished) {
      // The client went away before the response was complete.
      span.setAttribute('error.type', 'aborted')
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response finished' })
    }
    span.end()
  }
  res.once('finish', end)
  res.once('close', end)
}

/**
 * Wraps a node:http request listener: each request gets a SERVER span whose parent is the
 * caller's W3C `traceparent`, active while the handler runs, so kit operations, log lines and
 * outgoing calls inside it join the caller's trace.
 * @example http.createServer(traceRequests((req, res) => res.end('ok'))).listen(3000)
 */
export function traceRequests<Req extends IncomingMessage, Res extends ServerResponse>(
  handler: (req: Req, res: Res) => unknown,
  options: ServerTracingOptions = {},
): (req: Req, res: Res) => unknown {
  return function tracedRequest(req, res) {
    if (options.ignore?.(req)) return handler(req, res)
    const span = startServerSpan(req)
    endOnResponse(span, req, res, options.route)
    return context.with(trace.setSpan(context.active(), span), () => handler(req, res))
  }
}

/**
 * The same as Connect/Express middleware (`app.use(tracingMiddleware())`, first): the rest of
 * the chain runs inside the request's span, and the matched route names it.
 */
export function tracingMiddleware(
  options: ServerTracingOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return function tracing(req, res, next) {
    if (options.ignore?.(req)) return next()
    const span = startServerSpan(req)
    endOnResponse(span, req, res, options.route)
    context.with(trace.setSpan(context.active(), span), next)
  }
}
