import { checkPasswordPolicy } from '@beaver-kit/krypto'
import { AuthError } from './errors.ts'

/**
 * Checks a candidate password against a breach corpus (Have I Been Pwned's k-anonymity range
 * API, a local list): true when it is known to be breached. It gets the password itself, so
 * it must not log or send it whole.
 */
export type BreachedPasswordCheck = (password: string) => boolean | Promise<boolean>

/** The password rules: length only (NIST SP 800-63B), the common-password list and a breach hook. */
export interface PasswordRules {
  minLength: number
  maxLength: number
  breached?: BreachedPasswordCheck | undefined
}

/** Refuses a new password with every reason at once (`details.problems`), or returns. */
export async function enforcePasswordRules(
  password: unknown,
  rules: PasswordRules,
  forbidden: readonly string[],
): Promise<string> {
  if (typeof password !== 'string')
    throw new AuthError('AUTH_PASSWORD_REJECTED', 'The password must be a string.', {
      details: { problems: [{ code: 'not-a-string', message: 'The password must be a string.' }] },
    })
  const { problems } = checkPasswordPolicy(password, {
    minLength: rules.minLength,
    maxLength: rules.maxLength,
    forbidden,
  })
  const list: { code: string; message: string }[] = [...problems]
  // The breach check runs only on a password that passed the length bound: the hook never
  // receives megabytes, and never a password the policy already refused.
  if (list.length === 0 && rules.breached && (await rules.breached(password)))
    list.push({ code: 'breached', message: 'This password appears in known data breaches; choose another.' })
  if (list.length > 0)
    throw new AuthError('AUTH_PASSWORD_REJECTED', `The password was refused: ${list.map((p) => p.message).join(' ')}`, {
      details: { problems: list },
    })
  return password
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/

/** Trimmed and lower-cased, 254 characters at most, one `@`; else AUTH_EMAIL_INVALID. */
export function normalizeEmail(email: unknown): string {
  const value = typeof email === 'string' ? email.trim().toLowerCase() : ''
  if (value.length > 254 || !EMAIL.test(value))
    throw new AuthError('AUTH_EMAIL_INVALID', 'The e-mail address is not valid (name@domain, 254 characters at most).')
  return value
}

/** The same normalization for a login attempt, never throwing: a malformed e-mail is an unknown account. */
export function loginEmail(email: unknown): string | undefined {
  try {
    return normalizeEmail(email)
  } catch {
    return undefined
  }
}
