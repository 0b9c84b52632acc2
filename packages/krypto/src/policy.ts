import { invalidArgument } from './errors.ts'

/** Why a password was refused. */
export type PasswordProblemCode =
  'too-short' | 'too-long' | 'too-few-classes' | 'common' | 'contains-user-input' | 'repetitive'

/** One reason a password was refused, with a message fit for a form. */
export interface PasswordProblem {
  code: PasswordProblemCode
  message: string
}

/** Rules of `checkPasswordPolicy`. */
export interface PasswordPolicy {
  /** Default 12 (NIST SP 800-63B asks for 8 at least, 15 without MFA; OWASP ASVS 12). */
  minLength?: number
  /** Default 128: long passphrases are welcome, megabytes are not. */
  maxLength?: number
  /** How many of lower, upper, digit, symbol must appear. Default 0: NIST advises against composition rules. */
  minClasses?: number
  /** Refuse passwords from the built-in list of the most common ones. Default true. */
  forbidCommon?: boolean
  /** Extra words to refuse (app name, banned terms), compared case-insensitively. */
  forbidden?: readonly string[]
}

/** `ok` with no problems, or every problem found. */
export interface PasswordPolicyResult {
  ok: boolean
  problems: PasswordProblem[]
}

// The most used passwords from public breach corpora (lower-cased); a small list is enough to
// catch the worst choices, and length handles the rest.
const COMMON = new Set(
  (
    '123456 123456789 12345678 password qwerty123 qwerty 1q2w3e4r 111111 12345 1234567890 1234567 123123 abc123 ' +
    'password1 iloveyou 000000 dragon monkey letmein football baseball welcome admin admin123 login princess ' +
    'sunshine master shadow superman trustno1 batman passw0rd starwars hello freedom whatever qazwsx michael ' +
    'ashley bailey charlie donald jennifer jordan hunter hunter2 killer soccer mustang access flower cheese ' +
    'computer internet pokemon secret summer winter spring autumn zaq12wsx 654321 666666 121212 7777777 888888 ' +
    '987654321 1qaz2wsx qwertyuiop asdfghjkl zxcvbnm password123 password12 welcome1 welcome123 changeme ' +
    'default root toor test test123 guest user 1234 123 112233 159753 aaaaaa abcdef abcdefg abcdefgh ' +
    'p@ssw0rd p@ssword pa$$word qwerty12 qwerty1 iloveyou1 loveme lovely angel babygirl jessica daniel ' +
    'nicole thomas robert matthew andrew joshua liverpool chelsea arsenal blink182 naruto tigger purple ' +
    'orange banana chocolate cookie maggie ginger pepper buster jordan23 mercedes ferrari corvette harley ' +
    'letmein1 trustno11 administrator qwe123 asd123 zxc123 q1w2e3r4 q1w2e3r4t5 1q2w3e 1qazxsw2 11111111 ' +
    '00000000 12341234 123qwe 123abc abc12345 password1234 passwordpassword correcthorsebatterystaple'
  ).split(' '),
)

function classes(pw: string): number {
  let n = 0
  if (/\p{Ll}/u.test(pw)) n++
  if (/\p{Lu}/u.test(pw)) n++
  if (/\p{Nd}/u.test(pw)) n++
  if (/[^\p{L}\p{Nd}]/u.test(pw)) n++
  return n
}

/**
 * Checks a new password against a policy and says every reason it fails, in words a sign-up
 * form can show. Length is counted in code points, so emoji and accents count once.
 * @example
 * const { ok, problems } = checkPasswordPolicy(input, { minLength: 12, forbidden: [email, 'beaver'] })
 */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy = {}): PasswordPolicyResult {
  const { minLength = 12, maxLength = 128, minClasses = 0, forbidCommon = true, forbidden = [] } = policy
  if (typeof password !== 'string') throw invalidArgument('A password must be a string')
  if (minLength < 1 || maxLength < minLength)
    throw invalidArgument(`Invalid policy: minLength ${minLength}, maxLength ${maxLength}`)
  const problems: PasswordProblem[] = []
  // NFC never folds more than 3 UTF-16 units into one character (a Hangul syllable from three
  // jamo), so input past 4x maxLength units is too long whatever NFC makes of it: it is refused
  // before normalization or any pattern spends time on it.
  if (password.length > maxLength * 4) {
    problems.push({ code: 'too-long', message: `Use at most ${maxLength} characters.` })
    return { ok: false, problems }
  }
  const length = [...password.normalize('NFC')].length
  if (length < minLength)
    problems.push({ code: 'too-short', message: `Use at least ${minLength} characters (this has ${length}).` })
  if (length > maxLength) problems.push({ code: 'too-long', message: `Use at most ${maxLength} characters.` })
  if (minClasses > 0 && classes(password) < minClasses) {
    problems.push({
      code: 'too-few-classes',
      message: `Mix at least ${minClasses} of: lower case, upper case, digits, symbols.`,
    })
  }
  const lower = password.toLowerCase()
  if (forbidCommon && (COMMON.has(lower) || COMMON.has(lower.replace(/[\d!@#$%^&*.]+$/, '')))) {
    problems.push({ code: 'common', message: 'This password is among the most commonly used ones; choose another.' })
  }
  for (const word of forbidden) {
    if (word.length >= 3 && lower.includes(word.toLowerCase())) {
      problems.push({
        code: 'contains-user-input',
        message: 'The password must not contain your name, e-mail or the site name.',
      })
      break
    }
  }
  if (length >= 4 && new Set(password).size <= 2)
    problems.push({ code: 'repetitive', message: 'The password repeats the same one or two characters.' })
  return { ok: problems.length === 0, problems }
}
