import { createHmac, hash, type BinaryToTextEncoding, type KeyObject } from 'node:crypto'

const CAPACITY = 16 * 1024

/**
 * HMAC (RFC 2104) for one fixed key, computed as two one-shot hashes over pre-padded key
 * blocks. Node's `createHmac` builds an OpenSSL context per call; for the short messages of the
 * JWT hot path that setup is a large share of the cost, so the padded key blocks are prepared
 * once. Messages that do not fit the scratch buffer go through `createHmac`. Synchronous and
 * single-threaded, so one scratch buffer per key is safe.
 */
export class PreparedHmac {
  readonly #algorithm: 'sha256' | 'sha384' | 'sha512'
  readonly #key: KeyObject
  readonly #block: number
  readonly #inner: Buffer
  readonly #outer: Buffer

  constructor(algorithm: 'sha256' | 'sha384' | 'sha512', key: KeyObject) {
    this.#algorithm = algorithm
    this.#key = key
    this.#block = algorithm === 'sha256' ? 64 : 128
    const outLength = algorithm === 'sha256' ? 32 : algorithm === 'sha384' ? 48 : 64
    let k: Buffer = key.export()
    // A key longer than the block is replaced by its hash (RFC 2104 section 2).
    if (k.length > this.#block) k = hash(algorithm, k, 'buffer') as unknown as Buffer
    this.#inner = Buffer.alloc(this.#block + CAPACITY, 0x36)
    this.#outer = Buffer.alloc(this.#block + outLength, 0x5c)
    for (let i = 0; i < k.length; i++) {
      this.#inner[i] = 0x36 ^ (k[i] as number)
      this.#outer[i] = 0x5c ^ (k[i] as number)
    }
  }

  /** HMAC of the UTF-8 bytes of `message`, in `encoding`. */
  digest(message: string, encoding: BinaryToTextEncoding): string {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: anything that might not fit takes the slow path.
    if (message.length * 3 > CAPACITY) return createHmac(this.#algorithm, this.#key).update(message).digest(encoding)
    const n = this.#inner.write(message, this.#block, 'utf8')
    const innerHash = hash(this.#algorithm, this.#inner.subarray(0, this.#block + n), 'buffer') as unknown as Buffer
    innerHash.copy(this.#outer, this.#block)
    return hash(this.#algorithm, this.#outer, encoding)
  }
}
