/** What `turnWrites` needs of an ioredis `Redis`: its status and its socket. */
export interface CorkableClient {
  readonly status: string
  readonly stream: { cork(): void; uncork(): void }
}

/**
 * Returns a function to call before each command: the first call of an event-loop turn corks
 * the client's socket until the turn's I/O callbacks have run (setImmediate), so the commands
 * of every request handled in that turn leave in one write. ioredis's auto-pipelining batches
 * the same way but builds a Pipeline per batch, resolves each answer through an extra tick, and
 * holds a batch back until the one before it is answered; corking costs one setImmediate per
 * turn. Only a connected client is corked (before that, commands wait in ioredis's own queue).
 */
export function turnWrites(client: CorkableClient): () => void {
  let corked: { uncork(): void } | undefined
  const release = (): void => {
    const stream = corked
    corked = undefined
    stream?.uncork()
  }
  return function corkForThisTurn(): void {
    if (corked !== undefined || client.status !== 'ready') return
    const stream = client.stream
    stream.cork()
    corked = stream
    setImmediate(release)
  }
}
