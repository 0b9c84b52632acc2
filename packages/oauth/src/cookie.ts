/** The binding cookie that authorize() asks you to set and the callback reads back. */
export interface BindingCookie {
  name: string
  value: string
  options: { httpOnly: true; secure: boolean; sameSite: 'lax' | 'none'; path: string; maxAge: number }
  /** The whole `Set-Cookie` header value, for frameworks without a cookie API. */
  header: string
}

export function bindingCookie(
  name: string,
  value: string,
  options: { secure: boolean; crossSitePost: boolean; maxAgeS: number },
): BindingCookie {
  // A form_post callback (Apple) is a cross-site POST: a SameSite=Lax cookie would not come back.
  const sameSite = options.crossSitePost ? 'none' : 'lax'
  const secure = options.secure || options.crossSitePost
  const attrs = [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${options.maxAgeS}`,
    'HttpOnly',
    `SameSite=${sameSite === 'none' ? 'None' : 'Lax'}`,
  ]
  if (secure) attrs.push('Secure')
  return {
    name,
    value,
    options: { httpOnly: true, secure, sameSite, path: '/', maxAge: options.maxAgeS },
    header: attrs.join('; '),
  }
}

/** The `Set-Cookie` value that removes the binding cookie after a callback. */
export function clearedCookie(name: string): string {
  return `${name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`
}

/** One cookie's value from a `Cookie` header (case-sensitive name, first match). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
