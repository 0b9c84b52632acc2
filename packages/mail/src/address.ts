import { invalidField } from './errors.ts'

/** An address as callers may write it: `ada@example.com`, `Ada <ada@example.com>`, or an object. */
export type AddressInput = string | { readonly name?: string | undefined; readonly address: string }

/** A checked address. */
export interface Address {
  readonly name: string | undefined
  readonly address: string
}

// Dot-atom local part (any non-ASCII letters too, for SMTPUTF8), then a domain of labels.
// Deliberately stricter than RFC 5322: no quoted local parts, no comments, no IP literals,
// none of which a transactional sender needs and all of which have been used for injection.
const LOCAL = /^[^\s@<>()[\]\\,;:"]+$/u
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u
const NAMED = /^\s*(?:"((?:[^"\\\r\n]|\\.)*)"|([^<>"\r\n]*?))\s*<([^<>\r\n]*)>\s*$/
const CONTROL = /[\r\n\0]/

/** Whether `address` is a mailbox this kit sends to: `local@domain`, no spaces or control characters. */
export function isValidAddress(address: string): boolean {
  if (address.length > 254) return false
  const at = address.lastIndexOf('@')
  if (at <= 0 || at === address.length - 1) return false
  const local = address.slice(0, at)
  const domain = address.slice(at + 1)
  if (local.length > 64 || !LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return false
  }
  return domain.split('.').every((label) => LABEL.test(label))
}

// Checked address strings, so the sender and a list's regulars are parsed once, not per
// message; bounded (cleared when full), and only valid inputs are kept.
const parsed = new Map<string, Address>()
const PARSED_MAX = 1024

/** Parses one address input, naming `field` in the error when it is not a valid mailbox. */
export function parseAddress(input: AddressInput, field: string): Address {
  if (typeof input === 'string') {
    const known = parsed.get(input)
    if (known) return known
    const address = parseUncached(input, field)
    if (parsed.size >= PARSED_MAX) parsed.clear()
    parsed.set(input, address)
    return address
  }
  return parseUncached(input, field)
}

function parseUncached(input: AddressInput, field: string): Address {
  let name: string | undefined
  let address: string
  if (typeof input === 'string') {
    const named = NAMED.exec(input)
    if (named) {
      name = (named[1]?.replace(/\\(.)/g, '$1') ?? named[2])?.trim() || undefined
      address = (named[3] as string).trim()
    } else {
      address = input.trim()
    }
  } else if (typeof input === 'object' && input !== null && typeof input.address === 'string') {
    name = input.name?.trim() || undefined
    address = input.address.trim()
  } else {
    throw invalidField(field, 'expected an address string or { name, address }')
  }
  if (name !== undefined && (CONTROL.test(name) || name.length > 256)) {
    throw invalidField(`${field}.name`, 'a display name holds no line breaks and at most 256 characters')
  }
  if (!isValidAddress(address)) {
    throw invalidField(field, `"${address.slice(0, 80)}" is not a valid email address (expected local@domain)`, {
      details: { address: address.slice(0, 80) },
    })
  }
  return Object.freeze({ name, address })
}

/** Parses a single address or a list, naming each by index (`to[2]`). */
export function parseAddressList(input: AddressInput | readonly AddressInput[] | undefined, field: string): Address[] {
  if (input === undefined) return []
  if (Array.isArray(input)) return input.map((a: AddressInput, i) => parseAddress(a, `${field}[${i}]`))
  return [parseAddress(input as AddressInput, field)]
}

/** `Name <addr>` with the name quoted when it needs to be, or the bare address. */
export function formatAddress(a: Address): string {
  if (!a.name) return a.address
  const plain = /^[\p{L}\p{N} .'_-]*$/u.test(a.name)
  return `${plain ? a.name : `"${a.name.replace(/["\\]/g, '\\$&')}"`} <${a.address}>`
}

/** The key an address is suppressed under: lower-cased (domains are case-free; local parts are in practice). */
export function suppressionKey(address: string): string {
  return address.toLowerCase()
}
