import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

/** The provider kinds a `BEAVER_OAUTH_<NAME>_TYPE` may name. */
export const PROVIDER_TYPES = ['google', 'microsoft', 'github', 'facebook', 'apple', 'oidc', 'oauth2'] as const
export type ProviderType = (typeof PROVIDER_TYPES)[number]

/** Every BEAVER_OAUTH_* setting shared by all providers. */
export const oauthSchema = defineSchema(
  'OAUTH',
  {
    providers: f.list({
      default: [],
      doc: 'Provider names configured from BEAVER_OAUTH_<NAME>_* (google, github, facebook, microsoft, apple, or any name with TYPE=oidc|oauth2)',
    }),
    stateKeys: f.string({
      secret: true,
      doc: 'Key ring that encrypts the state (kid:base64 of 32+ bytes, comma-separated, first encrypts); unset: a random key per process (one process only)',
    }),
    stateTtl: f.duration({ default: '5m', doc: 'How long a sign-in may take between authorize() and the callback' }),
    cookieName: f.string({
      default: 'beaver_oauth',
      doc: 'Cookie that binds the state to the browser that started the sign-in',
    }),
    clockSkew: f.duration({ default: '60s', doc: 'Tolerance for ID token exp, iat and nbf' }),
    discoveryTtl: f.duration({ default: '1h', doc: 'How long a discovery document is cached' }),
    jwksCacheTtl: f.duration({ default: '10m', doc: 'How long a provider JWKS is cached' }),
    jwksCooldown: f.duration({
      default: '30s',
      doc: 'Least time between two JWKS fetches (an unknown kid refetches at most this often)',
    }),
    allowHttp: f.boolean({
      default: false,
      doc: 'Accept http:// issuers, discovery and JWKS (local test providers only: keys in clear text can be replaced)',
    }),
    timeout: f.duration({
      default: '10s',
      doc: 'Deadline of one call to a provider (token, userinfo, discovery, JWKS)',
    }),
    refreshBefore: f.duration({
      default: '60s',
      doc: 'The token store refreshes an access token this long before it expires',
    }),
  },
  'oauth',
)

/** The settings of one provider: BEAVER_OAUTH_<NAME>_*, here shown for a provider named PROVIDER. */
export function providerSchema(name: string) {
  return defineSchema(
    `OAUTH_${name.toUpperCase().replaceAll('-', '_')}`,
    {
      type: f.enum({
        values: PROVIDER_TYPES,
        doc: 'Kind of provider; defaults to the name when it is a built-in one (google, github, ...)',
      }),
      clientId: f.string({ doc: 'OAuth client id (Apple: the Services ID)' }),
      clientSecret: f.string({
        secret: true,
        doc: 'OAuth client secret (not for Apple, whose secret is a signed JWT)',
      }),
      redirectUri: f.url({ protocols: ['http', 'https'], doc: 'The callback URL registered with the provider' }),
      scopes: f.list({ doc: 'Scopes asked for; default per provider (openid email profile for OIDC)' }),
      issuer: f.url({
        protocols: ['http', 'https'],
        doc: 'OIDC issuer whose /.well-known/openid-configuration is read (type oidc)',
      }),
      authorizationUrl: f.url({
        protocols: ['http', 'https'],
        doc: 'Authorization endpoint (type oauth2, or to override a preset)',
      }),
      tokenUrl: f.url({ protocols: ['http', 'https'], doc: 'Token endpoint (type oauth2, or to override a preset)' }),
      apiUrl: f.url({
        protocols: ['http', 'https'],
        doc: 'Base URL of the user API (GitHub api.github.com, Facebook graph.facebook.com) or the userinfo URL (oauth2)',
      }),
      tokenAuth: f.enum({
        values: ['client_secret_basic', 'client_secret_post'],
        doc: 'How the client authenticates at the token endpoint; default per provider (discovery-based: basic)',
      }),
      tenant: f.string({ default: 'common', doc: 'Microsoft tenant: common, organizations, consumers or a tenant id' }),
      apiVersion: f.string({ default: 'v19.0', doc: 'Facebook Graph API version' }),
      teamId: f.string({ doc: 'Apple developer team id (the client-secret JWT issuer)' }),
      keyId: f.string({ doc: 'Apple Sign in key id (the client-secret JWT kid)' }),
      privateKey: f.string({ secret: true, doc: 'Apple Sign in private key (PKCS#8 PEM, ES256); _FILE reads a file' }),
    },
    `oauth provider (BEAVER_OAUTH_<NAME>_*, one set per name in BEAVER_OAUTH_PROVIDERS; shown for NAME=PROVIDER)`,
  )
}

/** The per-provider settings documented in the README, for a provider named PROVIDER. */
export const oauthProviderSchema = providerSchema('PROVIDER')

export type OAuthSettings = SchemaOptions<typeof oauthSchema>
export type OAuthConfig = SchemaConfig<typeof oauthSchema>
export type ProviderSettings = SchemaOptions<typeof oauthProviderSchema>
export type ProviderConfig = SchemaConfig<typeof oauthProviderSchema>
