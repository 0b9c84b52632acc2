import type http from 'node:http'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import QRCode from 'qrcode'
import type { Logger } from '@beaver-kit/logger'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'

/** Where kit-signed file URLs are served (the storage's handleSignedRequest). */
export const FILES_PATH = '/files'

/**
 * The storage of the QR codes: the local disk by default (`.data/storage`), S3 by
 * `BEAVER_STORAGE_DRIVER=s3` and `BEAVER_STORAGE_S3_*` alone. Local files are served through
 * kit-signed URLs under /files (with a key made at start-up unless BEAVER_STORAGE_SIGNING_KEY
 * is set); S3 presigns its own.
 */
export function demoStorage(env: NodeJS.ProcessEnv | undefined, baseUrl: string, log: Logger): Storage {
  const source = env ?? process.env
  const key = source.BEAVER_STORAGE_SIGNING_KEY
  if (!key) log.warn('no BEAVER_STORAGE_SIGNING_KEY set: QR code URLs are signed with a key made at start-up')
  return createStorage({
    ...(env ? { env } : {}),
    signing: {
      ...(key ? {} : { key: randomBytes(32).toString('base64url') }),
      ...(source.BEAVER_STORAGE_SIGNING_BASE_URL ? {} : { baseUrl: new URL(FILES_PATH, baseUrl).href }),
    },
  })
}

/** One QR-code PNG per link, stored at `qr/<code>.png` and handed out through signed URLs. */
export class LinkQrCodes {
  readonly storage: Storage
  readonly #owned: boolean

  constructor(storage: Storage, owned: boolean) {
    this.storage = storage
    this.#owned = owned
  }

  static path(code: string): string {
    return `qr/${code}.png`
  }

  /** Draws the short URL as a PNG and stores it. */
  async store(code: string, shortUrl: string): Promise<void> {
    const png = await QRCode.toBuffer(shortUrl, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 256 })
    await this.storage.put(LinkQrCodes.path(code), png, {
      contentType: 'image/png',
      cacheControl: 'private, max-age=3600',
    })
  }

  /** A signed URL of the link's PNG, drawn again first if it is missing (links made before QR codes). */
  async url(code: string, shortUrl: string): Promise<string> {
    if (!(await this.storage.exists(LinkQrCodes.path(code)))) await this.store(code, shortUrl)
    return this.storage.signedUrl(LinkQrCodes.path(code))
  }

  remove(code: string): Promise<boolean> {
    return this.storage.delete(LinkQrCodes.path(code))
  }

  /** Serves a kit-signed URL under /files: 200 with the PNG, 403 for a bad or expired signature, 404 when gone. */
  async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    let answer: Response
    try {
      answer = await this.storage.handleSignedRequest(new Request(url, { method: req.method ?? 'GET' }))
    } catch (err) {
      // A path no disk accepts is a bad request, not a server error.
      if (isStorageError(err, 'STORAGE_PATH_INVALID')) answer = new Response('Bad path.', { status: 400 })
      else throw err
    }
    res.writeHead(answer.status, Object.fromEntries(answer.headers))
    if (answer.body && req.method !== 'HEAD')
      await pipeline(Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>), res)
    else res.end()
    return answer.status
  }

  async close(): Promise<void> {
    if (this.#owned) await this.storage.close()
  }
}
