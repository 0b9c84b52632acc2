import type { Readable } from 'node:stream'

/**
 * How a body was read: `staged` blocks went to `stage`, and `last` (never staged, 1 to
 * blockSize bytes, or the whole body when nothing was staged) is left for the commit.
 */
export interface StagedBody {
  size: number
  staged: number
  last: Buffer
}

/**
 * Reads a body and hands it to `stage` in blocks of `blockSize` bytes, at most `concurrency`
 * in flight (reading pauses meanwhile, so memory stays near blockSize x (concurrency + 1)).
 * The last block is held back for the caller's commit, so a body that fits in one block is
 * never staged and can go up in a single request. A failing body or block rejects after the
 * blocks in flight settle; nothing is committed here.
 */
export async function stageInBlocks(
  body: Readable,
  options: { blockSize: number; concurrency: number; stage: (index: number, block: Buffer) => Promise<void> },
): Promise<StagedBody> {
  const { blockSize, concurrency, stage } = options
  const inflight = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let pending: Buffer[] = []
  let pendingBytes = 0
  let size = 0
  let blocks = 0
  const send = (block: Buffer): void => {
    const p: Promise<void> = stage(blocks++, block).then(
      () => void inflight.delete(p),
      (error: unknown) => {
        inflight.delete(p)
        failure ??= { error }
      },
    )
    inflight.add(p)
  }
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length
      pending.push(chunk)
      pendingBytes += chunk.length
      // Strictly more than a block: a body of exactly one block still goes up in one request.
      while (pendingBytes > blockSize) {
        const all = Buffer.concat(pending, pendingBytes)
        send(all.subarray(0, blockSize))
        pending = [all.subarray(blockSize)]
        pendingBytes -= blockSize
        while (inflight.size >= concurrency && !failure) await Promise.race(inflight)
        if (failure) throw failure.error
      }
    }
    await Promise.all(inflight)
    if (failure) throw failure.error
    return { size, staged: blocks, last: Buffer.concat(pending, pendingBytes) }
  } catch (err) {
    // An aborted or failed body (size, checksum) is the error the caller must see, not the
    // failure of a block request it caused.
    const own = (body as { errored?: unknown }).errored
    body.destroy()
    await Promise.all(inflight)
    throw own ?? err
  }
}
