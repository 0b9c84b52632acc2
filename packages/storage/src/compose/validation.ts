import { pipeline } from 'node:stream/promises'
import { Transform, type TransformCallback } from 'node:stream'
import type { DriverPut, StorageDriver } from '../driver.ts'
import { StorageError } from '../errors.ts'
import { hasSignature, SNIFF_BYTES, sniffType } from './sniff.ts'
import { DiskWrapper } from './wrapper.ts'

/** What a validated disk accepts. */
export interface ValidationRules {
  /** Largest body in bytes; a bigger one fails while it streams and leaves nothing. */
  maxSize?: number | undefined
  /**
   * Content types accepted ("image/png", "image/*"); the declared type (parameters aside) must
   * match one. Default: any.
   */
  allowedTypes?: readonly string[] | undefined
  /**
   * Check the first bytes (default true): a body whose magic bytes prove another type than the
   * declared one (a PDF sent as image/png, a PNG sent as text/plain) is refused.
   */
  sniff?: boolean | undefined
}

const bare = (type: string): string => type.split(';')[0]!.trim().toLowerCase()

function allowed(type: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    const pattern = p.toLowerCase()
    return pattern === type || (pattern.endsWith('/*') && type.startsWith(pattern.slice(0, -1)))
  })
}

function rejected(key: string, why: string, details: Record<string, unknown>): StorageError {
  return new StorageError(
    'STORAGE_REJECTED',
    `The upload of ${JSON.stringify(key)} was refused: ${why}; nothing was stored.`,
    {
      details: { path: key, ...details },
    },
  )
}

/**
 * A pass-through that holds the first bytes until it can sniff them, and counts the rest: a
 * refusal fails the stream, so the disk underneath (which commits only at the end) stores nothing.
 */
function validator(key: string, declared: string, rules: ValidationRules): Transform {
  const { maxSize = Number.POSITIVE_INFINITY, sniff = true } = rules
  const held: Buffer[] = []
  let heldBytes = 0
  let checked = !sniff
  let size = 0
  const check = (): StorageError | undefined => {
    checked = true
    const head = Buffer.concat(held, heldBytes)
    const proven = sniffType(head)
    if (proven !== undefined && proven !== declared)
      return rejected(key, `its content is ${proven}, not the declared ${declared}`, { declared, sniffed: proven })
    if (proven === undefined && hasSignature(declared))
      return rejected(key, `its content does not start like ${declared}`, { declared })
    return undefined
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      size += chunk.length
      if (size > maxSize) {
        done(
          new StorageError(
            'STORAGE_TOO_LARGE',
            `The upload of ${JSON.stringify(key)} is larger than ${maxSize} bytes; nothing was stored.`,
            {
              details: { path: key, maxBytes: maxSize },
            },
          ),
        )
        return
      }
      if (checked) return done(null, chunk)
      held.push(chunk)
      heldBytes += chunk.length
      if (heldBytes < SNIFF_BYTES) return done()
      const error = check()
      if (error) return done(error)
      done(null, Buffer.concat(held, heldBytes))
    },
    flush(done: TransformCallback) {
      if (checked) return done()
      const error = check()
      if (error) return done(error)
      done(null, Buffer.concat(held, heldBytes))
    },
  })
}

class ValidatedDisk extends DiskWrapper {
  readonly rules: ValidationRules

  constructor(disk: StorageDriver, rules: ValidationRules) {
    super(disk, 'validated')
    this.rules = rules
  }

  override async put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    const declared = bare(input.attributes.contentType)
    const { allowedTypes, maxSize } = this.rules
    const refuse = (error: StorageError): never => {
      input.body.destroy()
      throw error
    }
    if (allowedTypes && !allowed(declared, allowedTypes))
      refuse(rejected(key, `${declared} is not an allowed type (${allowedTypes.join(', ')})`, { declared }))
    if (maxSize !== undefined && input.size !== undefined && input.size > maxSize)
      refuse(
        new StorageError(
          'STORAGE_TOO_LARGE',
          `The upload of ${JSON.stringify(key)} is ${input.size} bytes, more than ${maxSize}; nothing was stored.`,
          {
            details: { path: key, maxBytes: maxSize },
          },
        ),
      )
    const checked = validator(key, declared, this.rules)
    // The source's failure reaches the disk through the validator; the pipeline's own promise
    // is observed so it never becomes an unhandled rejection (the disk's put() reports it).
    pipeline(input.body, checked).catch(() => undefined)
    return this.disk.put(key, { ...input, body: checked })
  }

  /** Upload URLs the backend presigns would bypass the checks; the kit signs those instead. */
  override async signedUrl(...[key, options]: Parameters<DiskWrapper['signedUrl']>): Promise<string | undefined> {
    return options.method === 'GET' ? super.signedUrl(key, options) : undefined
  }
}

/**
 * Wraps a built disk so every upload is checked while it streams, before the disk commits:
 * size, declared type against an allow list, and the content's magic bytes against the type.
 * @example createStorage({ driver: validated(s3, { maxSize: 5e6, allowedTypes: ['image/png', 'image/jpeg'] }) })
 */
export function validated(disk: StorageDriver, rules: ValidationRules): StorageDriver {
  return new ValidatedDisk(disk, rules)
}
