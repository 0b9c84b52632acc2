// Facebook's documented endpoints: Graph /vNN.N/dialog/oauth, /vNN.N/oauth/access_token,
// /vNN.N/me with appsecret_proof, and DELETE /me/permissions.
import { createHmac } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import {
  json,
  startBase,
  authorize,
  takeCode,
  issueTokens,
  finish,
  type LocalAccount,
  type LocalProviderServer,
} from './base.ts'

export async function startFacebookServer(options: {
  accounts: readonly LocalAccount[]
  version?: string
  clientId?: string
  clientSecret?: string
}): Promise<LocalProviderServer> {
  const clientId = options.clientId ?? '1234567890'
  const clientSecret = options.clientSecret ?? 'facebook-test-secret'
  const v = options.version ?? 'v19.0'
  const proofOk = (token: string, proof: string | null): boolean =>
    proof === createHmac('sha256', clientSecret).update(token).digest('hex')
  const graphError = (res: ServerResponse, status: number, message: string, code: number): boolean => (
    json(res, status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'test' } }),
    true
  )
  const b = await startBase(options.accounts, (b, req, res, url, form) => {
    if (url.pathname === `/${v}/dialog/oauth`) return (authorize(b, res, url, clientId), true)
    if (url.pathname === `/${v}/oauth/access_token`) {
      const p = { ...Object.fromEntries(url.searchParams), ...form }
      if (p.client_id !== clientId || p.client_secret !== clientSecret)
        return graphError(res, 400, 'Error validating client secret.', 1)
      const account = takeCode(b, p)?.account
      if (!account) return graphError(res, 400, 'This authorization code has been used.', 100)
      const t = issueTokens(b, account)
      json(res, 200, { access_token: t.access, token_type: 'bearer', expires_in: 5183944 })
      return true
    }
    const token =
      (req.headers.authorization ?? '').replace(/^Bearer /, '') || (url.searchParams.get('access_token') ?? '')
    if (url.pathname === `/${v}/me` && req.method === 'GET') {
      const a = b.tokens.get(token)
      if (!a) return graphError(res, 400, 'Invalid OAuth access token.', 190)
      if (!proofOk(token, url.searchParams.get('appsecret_proof')))
        return graphError(res, 400, 'Invalid appsecret_proof provided in the API argument', 100)
      const fields = (url.searchParams.get('fields') ?? 'id,name').split(',').map((f) => f.split('.')[0])
      const all: Record<string, unknown> = {
        id: a.id,
        name: a.name,
        email: a.email,
        picture: {
          data: {
            url: a.avatarUrl ?? 'https://static.example/silhouette.png',
            is_silhouette: a.avatarUrl === undefined,
            height: 200,
            width: 200,
          },
        },
      }
      json(
        res,
        200,
        Object.fromEntries(
          fields.filter((f) => f !== undefined && all[f] !== undefined).map((f) => [f, all[f as string]]),
        ),
      )
      return true
    }
    if (url.pathname === `/${v}/me/permissions` && req.method === 'DELETE') {
      if (!b.tokens.has(token) || !proofOk(token, url.searchParams.get('appsecret_proof')))
        return graphError(res, 400, 'Invalid OAuth access token.', 190)
      b.tokens.delete(token)
      b.revoked.push(token)
      json(res, 200, { success: true })
      return true
    }
    return false
  })
  return finish(b, clientId, clientSecret)
}

/** A small OpenID provider shaped like Apple's or Microsoft's (see the file comment). */
