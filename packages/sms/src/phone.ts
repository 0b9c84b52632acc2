import { invalidField } from './errors.ts'

const E164 = /^\+[1-9]\d{1,14}$/
const SEPARATORS = /[\s().-]/g
const SENDER_ID = /^[A-Za-z0-9 ]{1,11}$/

/** Whether `number` is E.164: `+`, a country code that does not start with 0, 15 digits at most. */
export function isE164(number: string): boolean {
  return E164.test(number)
}

/**
 * A phone number in E.164, accepting the spaces, dots, dashes and parentheses people write
 * (`+1 (415) 555-0100` → `+14155550100`). A number without `+` and a country code is refused
 * rather than guessed: the same digits are different people in different countries.
 */
export function toE164(input: unknown, field = 'to'): string {
  if (typeof input !== 'string') throw invalidField(field, 'expected a phone number in E.164 (+14155550100)')
  const compact = input.replace(SEPARATORS, '')
  if (!E164.test(compact)) {
    throw invalidField(
      field,
      `"${input.slice(0, 40)}" is not an E.164 number: a +, the country code, then the number, 15 digits at most (+14155550100)`,
    )
  }
  return compact
}

/** A sender: an E.164 number or an alphanumeric sender id (1 to 11 letters, digits or spaces). */
export function toSender(input: unknown, field = 'from'): string {
  if (typeof input === 'string' && SENDER_ID.test(input) && /[A-Za-z]/.test(input)) return input
  return toE164(input, field)
}

/** GSM-7 characters (basic set and escapes): a message using only these packs 160 per segment, else 70 (UCS-2). */
const GSM = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€',
)
const GSM_EXTENDED = new Set('^{}\\[~]|€')

/** How many SMS segments a body takes: 160/153 GSM-7 characters, or 70/67 UCS-2 code units with anything else. */
export function segmentsOf(body: string): number {
  let septets = 0
  let gsm = true
  for (const ch of body) {
    if (!GSM.has(ch)) {
      gsm = false
      break
    }
    septets += GSM_EXTENDED.has(ch) ? 2 : 1
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153)
  return body.length <= 70 ? 1 : Math.ceil(body.length / 67)
}
