import type { HotEntry } from '../driver.ts'
import type { Envelope } from './envelope.ts'
import type { ResidencyMark } from './residency.ts'

/**
 * What a synchronous by-reference top tier (memory) holds: the envelope plus what its hit path
 * needs, worked out once per write instead of on every hit, so an L1 hit builds no string and
 * hashes nothing.
 */
export class HotEnvelope implements Envelope, HotEntry {
  readonly payload: Uint8Array
  readonly freshUntil: number
  readonly staleUntil: number
  readonly createdAt: number
  readonly tags: readonly string[]
  /** `namespace + '\0' + key`, built once: lookups with it reuse the string's cached hash. */
  readonly ref: string
  /** `sketchHash(ref)`, for the strategy's frequency sketch; worked out by the first hit. */
  hash: number | undefined
  /** The payload as UTF-8 text, kept by the first reader that decodes text (the json serializer). */
  text: string | undefined
  /** What the facade decoded from the payload, kept when the tier shares decoded values. */
  value: unknown
  /** The facade codec that decoded `value`. */
  decodedBy: unknown
  /** The top tier's residency mark of this entry, kept by the first hit. */
  mark: ResidencyMark | undefined = undefined

  constructor(e: Envelope, ref: string) {
    this.payload = e.payload
    this.freshUntil = e.freshUntil
    this.staleUntil = e.staleUntil
    this.createdAt = e.createdAt
    this.tags = e.tags
    this.ref = ref
    this.hash = e instanceof HotEnvelope && e.ref === ref ? e.hash : undefined
    const same = e instanceof HotEnvelope
    this.text = same ? e.text : undefined
    this.value = same ? e.value : undefined
    this.decodedBy = same ? e.decodedBy : undefined
  }
}

/** An envelope kept by reference (not the bytes of another program's value). */
export function isEnvelope(v: unknown): v is Envelope {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as Envelope).payload instanceof Uint8Array &&
    typeof (v as Envelope).freshUntil === 'number'
  )
}

/** `namespace + '\0' + key`: identifies an entry across namespaces (namespaces hold no NUL). */
export function refOf(ns: string, key: string): string {
  return `${ns}\u0000${key}`
}

export function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('\u0000')
  return [ref.slice(0, i), ref.slice(i + 1)]
}
