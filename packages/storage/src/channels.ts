import { defineChannels, tracing } from '@beaver-kit/core'

interface Op {
  driver: string
  namespace: string
}

/** Every diagnostics channel of @beaver-kit/storage; the README's Diagnostics table is generated from it. Paths are never published. */
export const channels = defineChannels('storage', {
  put: tracing<Op & { bytes?: number; multipart?: boolean }>(
    'One upload, from the first byte read to the commit',
    'driver, namespace, bytes (when done), multipart',
  ),
  get: tracing<Op & { stream: boolean }>(
    'One download (get or getStream, until the stream is handed over)',
    'driver, namespace, stream',
  ),
  stat: tracing<Op>('One stat or exists', 'driver, namespace'),
  delete: tracing<Op & { count: number }>('delete or deleteMany', 'driver, namespace, count'),
  list: tracing<Op & { entries?: number }>('One page of a listing', 'driver, namespace, entries'),
  copy: tracing<Op & { move: boolean }>('copy or move', 'driver, namespace, move'),
  tags: tracing<Op & { write: boolean }>('getTags (write false) or setTags (write true)', 'driver, namespace, write'),
  ready: tracing<Op>('ready() checks the backend', 'driver, namespace'),
  upload: tracing<Op & { step: string }>(
    'One step of a chunked upload (initiate, part, part-url, list-parts, complete, abort, list-pending)',
    'driver, namespace, step',
  ),
})
