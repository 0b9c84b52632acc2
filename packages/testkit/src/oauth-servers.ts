// Local stand-ins for social login providers, following their documented endpoints, for the
// oauth tests: GitHub (github.com/login/oauth/* and the REST API's /user, /user/emails,
// DELETE /applications/{client_id}/grant), Facebook (Graph /vNN.N/dialog/oauth,
// /vNN.N/oauth/access_token, /vNN.N/me with appsecret_proof, DELETE /me/permissions) and a small
// OpenID provider shaped like Apple's (client secret = ES256 JWT checked with the team's public
// key, `email_verified` as the string "true") or Microsoft's (`{tenantid}` issuer, `tid` claim).
// The authorize endpoints consent at once and redirect with a code; every code is single-use
// and checked against its PKCE challenge.
// One file per provider under oauth-servers/.
export type { LocalAccount, LocalProviderServer } from './oauth-servers/base.ts'
export { startGitHubServer } from './oauth-servers/github.ts'
export { startFacebookServer } from './oauth-servers/facebook.ts'
export { startOidcLikeServer, type LocalOidcServer } from './oauth-servers/oidc.ts'
export { signInAt } from './oauth-servers/browser.ts'
