import { CacheError } from './errors.ts'
import { NEGATIVE, type CacheDriverCapabilities } from './driver.ts'
import type { Serializer } from './serializers.ts'

/** What `decode` answers for a negative entry ("known missing"). */
export const MISS: unique symbol = Symbol('miss')
const EMPTY = new Uint8Array(0)
// Module-local, so V8 folds it to the symbol: compared through the import's cell, `stored ===
// NEGATIVE` was a call of the generic StrictEqual builtin on every memory hit (see sync.ts).
const negative = NEGATIVE

/**
 * Values to and from what one driver stores, decided once when the driver is adopted: kept by
 * reference (memory), bytes from the serializer, or text for a driver that takes strings
 * (`capabilities.text`) when the serializer writes text. A negative entry is NEGATIVE by
 * reference and an empty value otherwise.
 */
export class Codec {
  readonly serializer: Serializer
  /** Values by reference (no serializer on the hot path). */
  readonly byReference: boolean
  /** The driver takes text for UTF-8 bytes and the serializer writes text. */
  readonly textWrites: boolean
  /** Reads may ask the driver for text (getText/getManyText/peek) because the serializer decodes text. */
  readonly textReads: boolean
  readonly #maxEntrySize: number

  constructor(serializer: Serializer, capabilities: CacheDriverCapabilities, maxEntrySize: number) {
    this.serializer = serializer
    this.byReference = capabilities.values === 'any'
    this.textWrites = capabilities.text === true && serializer.serializeText !== undefined
    this.textReads = serializer.deserializeText !== undefined
    this.#maxEntrySize = maxEntrySize
  }

  /** A driver's "not found": undefined, or null from a bytes driver (null is a value by reference). */
  absent(stored: unknown): boolean {
    return stored === undefined || (stored === null && !this.byReference)
  }

  /** Stored form → value, or MISS for a negative entry. */
  decode(stored: unknown): unknown {
    if (this.byReference === true) return stored === negative ? MISS : stored
    const serializer = this.serializer
    if (typeof stored === 'string') {
      // A text read (getText/getManyText/peek): the UTF-8 decoding of the stored bytes.
      if (stored.length === 0) return MISS
      return serializer.deserializeText !== undefined
        ? serializer.deserializeText(stored)
        : serializer.deserialize(Buffer.from(stored, 'utf8'))
    }
    const bytes = stored as Uint8Array
    if (bytes.byteLength === 0) return MISS
    return serializer.deserialize(bytes)
  }

  /** Value → what the driver stores (checked against maxEntrySize). */
  encode(value: unknown): unknown {
    if (this.byReference) {
      if (value === undefined) {
        throw new CacheError(
          'CACHE_SERIALIZE',
          'Cannot cache undefined: cache null, or use getOrSet\'s negative caching for "not found".',
        )
      }
      return value
    }
    if (this.textWrites) {
      const text = (this.serializer.serializeText as (v: unknown) => string)(value)
      if (this.#maxEntrySize > 0) this.#checkSize(Buffer.byteLength(text))
      return text
    }
    return this.bytes(value)
  }

  /** Value → serializer bytes, whatever the driver takes (for setEntry, which stores bytes). */
  bytes(value: unknown): Uint8Array {
    const bytes = this.serializer.serialize(value)
    if (this.#maxEntrySize > 0) this.#checkSize(bytes.byteLength)
    return bytes
  }

  /** What the driver stores for "known missing". */
  negative(): unknown {
    return this.byReference ? NEGATIVE : EMPTY
  }

  #checkSize(size: number): void {
    if (size > this.#maxEntrySize) {
      throw new CacheError(
        'CACHE_VALUE_TOO_LARGE',
        `A value serializes to ${size} bytes, more than maxEntrySize (${this.#maxEntrySize}); store less, or raise BEAVER_CACHE_MAX_ENTRY_SIZE.`,
        { details: { size, maxEntrySize: this.#maxEntrySize } },
      )
    }
  }
}
