import { Readable, Writable } from 'node:stream'
import type { SFTPWrapper } from 'ssh2'
import { call } from './sftp-connection.ts'

// ssh2's own read and write streams close their handle after 'end'/'finish' and report a
// failure of that close as an 'error' nobody listens to any more (an uncaught exception when
// the connection ends first). These close the handle inside the stream's lifetime instead:
// the reader before it is done, the writer before 'finish', so a close failure reaches the caller.

const CHUNK = 64 * 1024
const SFTP_EOF = 1

/**
 * A readable over an open SFTP file handle, from `start` to `end` (inclusive), one 64 KiB read
 * request at a time. The handle is closed when the stream ends or is destroyed; `onClosed` runs
 * after that, once.
 */
export function sftpReadable(
  sftp: SFTPWrapper,
  handle: Buffer,
  range: { start?: number | undefined; end?: number | undefined },
  onClosed: () => void,
): Readable {
  let position = range.start ?? 0
  const last = range.end ?? Number.POSITIVE_INFINITY
  let open = true
  const closeHandle = async (): Promise<void> => {
    if (!open) return
    open = false
    try {
      await call((cb) => sftp.close(handle, cb))
    } finally {
      onClosed()
    }
  }
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      const finish = (): void => {
        closeHandle().then(
          () => this.push(null),
          (err: unknown) => this.destroy(err as Error),
        )
      }
      const length = Math.min(CHUNK, last - position + 1)
      if (length <= 0) return finish()
      const buffer = Buffer.allocUnsafe(length)
      sftp.read(handle, buffer, 0, length, position, (err, bytesRead) => {
        // The end of the file comes as a read of 0 bytes or as SFTP's EOF status (1).
        if ((err as { code?: unknown } | undefined)?.code === SFTP_EOF || (!err && bytesRead === 0)) return finish()
        if (err) return this.destroy(err)
        position += bytesRead
        this.push(buffer.subarray(0, bytesRead))
      })
    },
    destroy(err, callback) {
      closeHandle().then(
        () => callback(err),
        (closeErr: unknown) => callback(err ?? (closeErr as Error)),
      )
    },
  })
}

/**
 * A writable that creates `path` exclusively (it must not exist) and writes it in order; its
 * 'finish' comes after the handle is closed, so a finished stream is a complete, closed file.
 */
export function sftpWritable(sftp: SFTPWrapper, path: string): Writable {
  let handle: Buffer | undefined
  let position = 0
  const opening = call<Buffer>((cb) => sftp.open(path, 'wx', cb)).then((h) => (handle = h))
  opening.catch(() => undefined)
  const closeHandle = async (): Promise<void> => {
    const h = handle
    handle = undefined
    if (h) await call((cb) => sftp.close(h, cb))
  }
  return new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _encoding, callback) {
      opening.then(
        (h) =>
          sftp.write(h, chunk, 0, chunk.length, position, (err) => {
            if (!err) position += chunk.length
            callback(err)
          }),
        callback,
      )
    },
    final(callback) {
      opening.then(() => closeHandle().then(() => callback(), callback), callback)
    },
    destroy(err, callback) {
      void opening
        .then(closeHandle)
        .catch(() => undefined)
        .then(() => callback(err))
    },
  })
}
