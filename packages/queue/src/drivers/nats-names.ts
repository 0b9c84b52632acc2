/**
 * Stream, subject and consumer names of one queue. A full queue name (`ns/emails.welcome`)
 * may hold characters that stream names (`.`, `/`) or subjects (`.`) refuse, so every character
 * outside `[A-Za-z0-9-]` is written as `_` and two hex digits: `_` itself included, so no two
 * queue names share a stream, and the stream name decodes back to the queue.
 */
export interface NatsQueueNames {
  /** Work-queue stream of the queue: its ready (`jobs`) and delayed subjects. */
  stream: string
  jobs: string
  delayed: string
  /** Limits-retention stream of the queue's dead messages. */
  deadStream: string
  dead: string
  /** Durable pull consumer on `jobs`, shared by every worker of the queue. */
  work: string
  /** Durable pull consumer on `delayed` that moves due messages to `jobs`. */
  mover: string
}

export function encodeName(queue: string): string {
  return queue.replace(/[^A-Za-z0-9-]/g, (c) =>
    [...Buffer.from(c)].map((b) => `_${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  )
}

export function decodeName(encoded: string): string {
  // Encoded names hold no `%`, so the hex escapes map one to one onto URI escapes.
  return decodeURIComponent(encoded.replace(/_([0-9A-F]{2})/g, '%$1'))
}

export function queueNames(prefix: string, queue: string): NatsQueueNames {
  const enc = encodeName(queue)
  const base = `${prefix}.${enc}`
  return {
    stream: `${prefix}_${enc}`,
    jobs: `${base}.jobs`,
    delayed: `${base}.delayed`,
    deadStream: `${prefix}_${enc}_dead`,
    dead: `${base}.dead`,
    work: 'work',
    mover: 'mover',
  }
}

/** The queue of a stream this driver created, or undefined for another stream (or a DLQ stream). */
export function queueOfStream(prefix: string, stream: string): string | undefined {
  if (!stream.startsWith(`${prefix}_`) || stream.endsWith('_dead')) return undefined
  try {
    return decodeName(stream.slice(prefix.length + 1))
  } catch {
    return undefined
  }
}
