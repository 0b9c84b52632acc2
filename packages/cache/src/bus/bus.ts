/** What one process tells the others so they drop copies from their local (memory) tiers. */
export type InvalidationMessage =
  | { readonly kind: 'delete'; readonly namespace: string; readonly keys: readonly string[] }
  | { readonly kind: 'clear'; readonly namespace: string }
  | {
      readonly kind: 'tags'
      readonly namespace: string
      readonly tags: readonly string[]
      readonly at: number
      readonly mode: 'soft' | 'hard'
    }

/**
 * Carries invalidations between processes that share a tier. A process never receives its
 * own messages. Delivery is at most once (pub/sub): a process that was disconnected clears
 * its local tiers when it reconnects (`onReconnect`), so it never serves what it missed.
 */
export interface InvalidationBus {
  /** This process's id on the bus. */
  readonly id: string
  publish(message: InvalidationMessage): Promise<void>
  /** Adds a handler for messages from other processes; returns the unsubscribe function. */
  subscribe(handler: (message: InvalidationMessage) => void): () => void
  /** Adds a handler for "the subscription was lost and is back" (messages may have been missed). */
  onReconnect(handler: () => void): () => void
  /** Resolves once the subscription is active. */
  ready(): Promise<void>
  close(): Promise<void>
  /** Messages dropped as malformed, unsigned or forged (a bus with a key only takes signed ones). */
  readonly rejected?: number
}
