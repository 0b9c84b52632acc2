/**
 * Plays the browser through the OP: follows redirects, posts the devInteractions login form
 * (any login, any password), and returns the redirect to the client's callback.
 */
export async function signInAt(authorizationUrl: string, redirectUri: string, login = 'alice'): Promise<URL> {
  const jar = new Map<string, string>()
  let url = new URL(authorizationUrl)
  let init: RequestInit = { method: 'GET' }
  for (let step = 0; step < 12; step++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as object), ...(cookie ? { cookie } : {}) },
    })
    for (const set of res.headers.getSetCookie()) {
      const [pair = ''] = set.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const value = pair.slice(eq + 1)
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(set)) jar.delete(name)
      else jar.set(name, value)
    }
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel()
      const next = new URL(location, url)
      if (next.href.startsWith(redirectUri)) return next
      url = next
      init = { method: 'GET' }
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`The OP answered ${res.status}: ${html.slice(0, 300)}`)
    const action = /action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1]
    if (!action || !prompt) throw new Error(`No interaction form in the OP page: ${html.slice(0, 300)}`)
    url = new URL(action.replaceAll('&amp;', '&'), url)
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }
    init = {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }
  }
  throw new Error('The sign-in at the OP did not reach the callback in 12 steps')
}
