// GitHub's documented OAuth app endpoints: github.com/login/oauth/*, the REST API's /user and
// /user/emails, and DELETE /applications/{client_id}/grant.
import {
  json,
  startBase,
  authorize,
  takeCode,
  bearer,
  issueTokens,
  finish,
  type LocalAccount,
  type LocalProviderServer,
} from './base.ts'

export async function startGitHubServer(options: {
  accounts: readonly LocalAccount[]
  expiring?: boolean
  clientId?: string
  clientSecret?: string
}): Promise<LocalProviderServer> {
  const clientId = options.clientId ?? 'Iv1.testclient'
  const clientSecret = options.clientSecret ?? 'github-test-secret'
  const b = await startBase(options.accounts, (b, req, res, url, form) => {
    if (url.pathname === '/login/oauth/authorize') return (authorize(b, res, url, clientId), true)
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      if (form.client_id !== clientId || form.client_secret !== clientSecret)
        return (
          json(res, 200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          }),
          true
        )
      let account: LocalAccount | undefined
      if (form.grant_type === 'refresh_token') {
        account = b.refreshTokens.get(form.refresh_token ?? '')
        b.refreshTokens.delete(form.refresh_token ?? '')
        if (!account) return (json(res, 200, { error: 'bad_refresh_token' }), true)
      } else {
        account = takeCode(b, form)?.account
        if (!account)
          return (
            json(res, 200, {
              error: 'bad_verification_code',
              error_description: 'The code passed is incorrect or expired.',
            }),
            true
          )
      }
      const t = issueTokens(b, account)
      const wantsJson = (req.headers.accept ?? '').includes('application/json')
      const body: Record<string, string | number> = {
        access_token: t.access,
        token_type: 'bearer',
        scope: 'read:user,user:email',
      }
      if (options.expiring)
        Object.assign(body, { expires_in: 28800, refresh_token: t.refresh, refresh_token_expires_in: 15897600 })
      if (wantsJson) json(res, 200, body)
      else
        res
          .writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
          .end(new URLSearchParams(body as Record<string, string>).toString())
      return true
    }
    if (url.pathname === '/user' && req.method === 'GET') {
      const a = bearer(b, req)
      if (!a) return (json(res, 401, { message: 'Bad credentials' }), true)
      json(res, 200, {
        login: a.login ?? a.id,
        id: Number(a.id),
        avatar_url: a.avatarUrl ?? null,
        name: a.name ?? null,
        email: null,
      })
      return true
    }
    if (url.pathname === '/user/emails' && req.method === 'GET') {
      const a = bearer(b, req)
      if (!a) return (json(res, 401, { message: 'Bad credentials' }), true)
      json(
        res,
        200,
        a.email
          ? [
              { email: `${a.id}@users.noreply.github.com`, primary: false, verified: true, visibility: null },
              { email: a.email, primary: true, verified: a.emailVerified ?? false, visibility: 'private' },
            ]
          : [],
      )
      return true
    }
    if (url.pathname === `/applications/${clientId}/grant` && req.method === 'DELETE') {
      const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`
      if (req.headers.authorization !== basic) return (json(res, 401, { message: 'Requires authentication' }), true)
      if (!b.tokens.has(form.access_token ?? '')) return (json(res, 404, { message: 'Not Found' }), true)
      b.tokens.delete(form.access_token as string)
      b.revoked.push(form.access_token as string)
      res.writeHead(204).end()
      return true
    }
    return false
  })
  return finish(b, clientId, clientSecret)
}

/**
 * Facebook Login on the Graph API: `/vNN.N/dialog/oauth`, `/vNN.N/oauth/access_token` (GET or
 * POST), `/vNN.N/me?fields=...` (refused without a correct `appsecret_proof`),
 * `DELETE /vNN.N/me/permissions`.
 */
