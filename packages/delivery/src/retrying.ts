import { retry } from '@beaver-kit/core'

/** What the retry wraps: a built mail transport or SMS driver. */
export interface RetryableSender {
  readonly name: string
  readonly capabilities: { readonly retries: boolean }
  send(message: never, options: { readonly signal?: AbortSignal | undefined }): Promise<unknown>
  verify?(options: { readonly signal?: AbortSignal | undefined }): Promise<void>
  close(): Promise<void>
}

export interface SendRetryPolicy {
  /** Attempts per message, the first included; 1 turns the retry off. */
  attempts: number
  baseMs: number
  maxMs: number
  /** Whether a failure is temporary (a 421/454 reply, throttling, a lost connection) and worth sending again. */
  isTransient(error: unknown): boolean
  /** The server's delay hint of a failure (Retry-After), in ms. */
  retryAfter(error: unknown): number | undefined
  /** A retry is about to wait `delayMs`; `code` is the failure's code (`UNKNOWN` when it has none). */
  onRetry?(event: { sender: string; attempt: number; delayMs: number; code: string }): void
}

/**
 * Wraps a sender that does not retry by itself (SMTP, file, registered drivers) so temporary
 * failures are sent again with exponential backoff and full jitter, honouring the server's
 * delay hint. A sender that retries natively (`capabilities.retries`) is returned as it is,
 * so a failover set retries each member before it moves on, and never twice over.
 */
export function withSendRetries<T extends RetryableSender>(sender: T, policy: SendRetryPolicy): T {
  const { attempts, baseMs, maxMs, isTransient, retryAfter, onRetry } = policy
  if (sender.capabilities.retries || attempts <= 1) return sender
  const send = (message: never, options: { readonly signal?: AbortSignal | undefined }): Promise<unknown> =>
    retry(() => sender.send(message, options), {
      maxAttempts: attempts,
      baseMs,
      maxMs,
      signal: options.signal,
      shouldRetry: isTransient,
      retryAfter,
      ...(onRetry
        ? {
            onRetry: ({ attempt, delayMs, error }) => {
              const code = (error as { code?: unknown } | null)?.code
              onRetry({ sender: sender.name, attempt, delayMs, code: typeof code === 'string' ? code : 'UNKNOWN' })
            },
          }
        : {}),
    })
  const verify = sender.verify?.bind(sender)
  // The sender's other members (a memory transport's sent()) stay reachable; send, verify and
  // close call the sender itself, so a class instance keeps its `this`.
  return {
    ...sender,
    capabilities: Object.freeze({ ...sender.capabilities, retries: true }),
    send,
    ...(verify ? { verify } : {}),
    close: () => sender.close(),
  }
}
