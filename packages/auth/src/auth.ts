import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { createKrypto, generateKeyRingEntry, randomToken, type Krypto } from '@beaver-kit/krypto'
import { createLimiter } from '@beaver-kit/ratelimit'
import {
  changePassword,
  login,
  logout,
  logoutAll,
  register,
  sendVerification,
  verifyEmail,
  type ChangePasswordInput,
  type LoginInput,
  type LoginResult,
  type RegisterInput,
} from './account.ts'
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
  verifyApiKey,
  type ApiKeyInfo,
  type ApiKeyInput,
  type CreatedApiKey,
} from './api-keys.ts'
import { channels } from './channels.ts'
import { authSchema, type AuthSettings } from './config.ts'
import {
  eventEmitter,
  publicUser,
  type AuthDeliver,
  type FlowContext,
  type LoginLimiter,
  type PublicUser,
  type SessionSource,
} from './context.ts'
import { AuthError } from './errors.ts'
import type { AuthEventSink, RequestContext } from './events.ts'
import { bearerToken, middleware, type AccessRule, type AuthMiddleware, type AuthRequest } from './http.ts'
import { loginEmail, type BreachedPasswordCheck } from './passwords.ts'
import type { Resource } from './conditions.ts'
import { compileRoles, permissionName, type Permit, type RoleTable, type Subject } from './rbac.ts'
import { requestPasswordReset, requestUnlock, resetPassword, unlock } from './reset.ts'
import { completeSignUp, requestSignUp } from './sign-up.ts'
import type { AuthStore } from './store.ts'
import { createMemoryAuthStore } from './stores/memory.ts'
import { createSqlAuthStore } from './stores/sql.ts'
import { rotate, startFamily, verifyAccess, type Principal, type TokenPair } from './tokens.ts'
import { checkSettings } from './settings.ts'
import { confirmEmailChange, requestEmailChange } from './email-change.ts'
import { confirmTotp, disableTotp, enrollTotp, type TotpEnrollment } from './totp.ts'

/** Options of `createAuth`: BEAVER_AUTH_* settings plus what env cannot carry. */
export interface AuthOptions extends AuthSettings, InstanceOptions {
  /** A store of your own (a custom repository, or one shared by several instances); overrides `store`. */
  storeInstance?: AuthStore
  /** The krypto instance that signs tokens and hashes passwords; default one built from BEAVER_KRYPTO_*. */
  krypto?: Krypto
  /** The login rate limit; default a memory limiter from BEAVER_AUTH_RATE_LIMIT_*; `false` for none. */
  limiter?: LoginLimiter | false
  /** The per-API-key limit; default a memory limiter of BEAVER_AUTH_API_KEY_RATE_LIMIT per minute when that is above 0. */
  apiKeyLimiter?: LoginLimiter | false
  /** Server sessions read by `authenticate()` and ended by password changes (`@beaver-kit/session`). */
  sessions?: SessionSource
  /** Sends verification and reset links (your mailer). */
  deliver?: AuthDeliver
  /** The audit sink: every flow's event, awaited (`@beaver-kit/audit`'s record, a logger). */
  onEvent?: AuthEventSink
  /** Roles, their permissions and their parents. */
  roles?: RoleTable
  /** Refuses passwords known from breaches (a k-anonymity lookup, a local list). */
  breachedPassword?: BreachedPasswordCheck
  /** The clock in ms (tests). Default Date.now. */
  now?: () => number
}

/** Accounts, tokens, API keys and roles: create with `createAuth()`, or use the default `auth()`. */
export interface Auth extends Instance<InstanceDescription> {
  /** `memory`, `database` or the name of a custom store. */
  readonly store: string
  /** Creates an account (password policy, hashed with argon2id); sends a verification link when `deliver` is set. */
  register(input: RegisterInput, request?: RequestContext): Promise<PublicUser>
  /**
   * Enumeration-safe sign-up: the same answer and work whether the e-mail has an account or
   * not; mails a link that creates the account (`completeSignUp`), or an "account exists" note
   * with a reset link. Needs `deliver` and the krypto key ring.
   */
  requestSignUp(input: RegisterInput, request?: RequestContext): Promise<void>
  /** Creates the account of a sign-up link (its e-mail verified); the link works once. */
  completeSignUp(token: string, request?: RequestContext): Promise<PublicUser>
  /** E-mail and password to a token pair; one answer (AUTH_INVALID_CREDENTIALS) for every failure. */
  login(input: LoginInput, request?: RequestContext): Promise<LoginResult>
  /** Spends a refresh token for a new pair; a reused one revokes its family (AUTH_REFRESH_REUSED). */
  refresh(refreshToken: string, request?: RequestContext): Promise<TokenPair>
  /** Ends the sign-in of a refresh token. */
  logout(refreshToken: string, request?: RequestContext): Promise<void>
  /** Ends every sign-in of a user (refresh families and server sessions). */
  logoutAll(userId: string, request?: RequestContext): Promise<void>
  /** Checks the current password, sets the new one, ends every other sign-in. */
  changePassword(input: ChangePasswordInput, request?: RequestContext): Promise<void>
  /** Sends a reset link if the account exists; the same answer and work either way. */
  requestPasswordReset(email: string, request?: RequestContext): Promise<void>
  /** Sets a new password with a single-use reset token and ends every sign-in. */
  resetPassword(token: string, newPassword: string, request?: RequestContext): Promise<void>
  /** Sends an unlock link if the account exists (same answer and work either way). */
  requestUnlock(email: string, request?: RequestContext): Promise<void>
  /** Lifts the account's login delay with a single-use unlock token. */
  unlock(token: string, request?: RequestContext): Promise<void>
  /** Sends a new verification link to an account. */
  sendVerification(userId: string): Promise<void>
  /** Marks the e-mail verified with a single-use verification token. */
  verifyEmail(token: string, request?: RequestContext): Promise<PublicUser>
  /** The account, without its password hash. */
  getUser(userId: string): Promise<PublicUser | undefined>
  /** The account of an e-mail address (for linking a social login to it), without its password hash. */
  findUserByEmail(email: string): Promise<PublicUser | undefined>
  /**
   * Signs in an account proven another way (an OAuth/OIDC login, a magic link): a new refresh
   * family and its pair, and an `auth.login` event whose reason names `method`. The caller has
   * done the proving; nothing here checks a password.
   */
  signIn(userId: string, options: { method: string }, request?: RequestContext): Promise<LoginResult>
  /** Replaces a user's roles (each must be in the roles table); new access tokens carry them. */
  setRoles(userId: string, roles: string[], request?: RequestContext): Promise<void>
  /** Verifies an access token (signature by kid, typ, exp, iss, aud) without touching the store. */
  verifyAccessToken(token: string): Principal
  /** The principal of a request: Bearer access token, Bearer API key, or server session; undefined when none is presented. */
  authenticate(req: AuthRequest, request?: RequestContext): Promise<Principal | undefined>
  createApiKey(userId: string, input: ApiKeyInput, request?: RequestContext): Promise<CreatedApiKey>
  verifyApiKey(key: string, request?: RequestContext): Promise<Principal>
  listApiKeys(userId: string): Promise<ApiKeyInfo[]>
  revokeApiKey(userId: string, id: string, request?: RequestContext): Promise<boolean>
  /**
   * True when the roles (with their parents) grant the permission and API-key scopes, if any,
   * allow it. Without a resource only an unconditional grant counts; with one, conditional
   * grants are checked on it. `can(s, 'update', 'Link', link)` is `can(s, 'link:update', link)`.
   */
  can(subject: Subject, permission: string, resource?: Resource): boolean
  can(subject: Subject, action: string, type: string, resource?: Resource): boolean
  /** The subject's access for one permission: `granted`, `allows(resource)`, and `where()` for SQL queries. */
  permit(subject: Subject, permission: string): Permit
  permit(subject: Subject, action: string, type: string): Permit
  /**
   * The principal of a request that meets the rule (one of `roles`, every one of `permissions`
   * unconditionally); AUTH_UNAUTHENTICATED or AUTH_FORBIDDEN otherwise. The framework adapters build on it.
   */
  authorize(req: AuthRequest, rule?: AccessRule): Promise<Principal>
  /** True when one of the roles is the role or inherits it. */
  hasRole(subject: Subject, role: string): boolean
  /** Middleware: any authenticated request (401 otherwise). */
  requireAuth(): AuthMiddleware
  /** Middleware: the principal has one of the roles (401 or 403 otherwise). */
  requireRole(...roles: string[]): AuthMiddleware
  /** Middleware: the principal has every permission (401 or 403 otherwise). */
  requirePermission(...permissions: string[]): AuthMiddleware
  /** Checks the password and sends a confirmation link to the new address; nothing changes until it is confirmed. */
  requestEmailChange(
    input: { userId: string; password: string; newEmail: string },
    request?: RequestContext,
  ): Promise<void>
  /** Sets (and marks verified) the new address of a confirmation link; the link works once. */
  confirmEmailChange(token: string, request?: RequestContext): Promise<PublicUser>
  /** Starts TOTP enrollment: a secret (stored encrypted) and its otpauth:// URI; not required until confirmed. */
  enrollTotp(userId: string, request?: RequestContext): Promise<TotpEnrollment>
  /** Turns TOTP on with a first code; returns 10 single-use backup codes, shown once and stored hashed. */
  confirmTotp(userId: string, code: string, request?: RequestContext): Promise<{ backupCodes: string[] }>
  /** Turns TOTP off after checking the password. */
  disableTotp(userId: string, password: string, request?: RequestContext): Promise<void>
  /** The public keys of the token key set, for `/.well-known/jwks.json` (empty for HMAC keys). */
  jwks(): { keys: object[] }
  ready(options?: { signal?: AbortSignal }): Promise<void>
}

function kryptoFor(
  options: AuthOptions,
  env: Record<string, string | undefined>,
): { krypto: Krypto; ephemeral: boolean } {
  // The instance's clock drives token times too, so a fake clock in tests moves `exp` with it.
  const source = {
    envPrefix: options.envPrefix,
    ...(options.env ? { env: options.env } : {}),
    ...(options.now ? { now: options.now } : {}),
  }
  const built = createKrypto(source)
  if (built.jwt.currentKid !== undefined) return { krypto: built, ephemeral: false }
  if (env.NODE_ENV === 'production') {
    const prefix = options.envPrefix === false ? '' : (options.envPrefix ?? 'BEAVER_')
    throw new AuthError(
      'AUTH_OPTIONS_INVALID',
      `No key signs access tokens: set ${prefix}KRYPTO_KEYS ("kid:base64", generateKeyRingEntry() makes one) or ${prefix}KRYPTO_JWT_PRIVATE_KEY, or pass krypto. Outside production a random key is used, and tokens die with the process.`,
    )
  }
  return { krypto: createKrypto({ ...source, keys: [generateKeyRingEntry('ephemeral')] }), ephemeral: true }
}

/**
 * Builds accounts and tokens from options, then `BEAVER_AUTH_*` (and `BEAVER_KRYPTO_*` for the
 * keys and password costs), then defaults. Does no I/O; invalid configuration throws.
 * @example
 * await using auth = createAuth({ store: 'database', issuer: 'links', audience: 'links-api' })
 * await auth.register({ email, password })
 * const { accessToken, refreshToken } = await auth.login({ email, password }, { ip })
 */
export function createAuth(options: AuthOptions = {}): Auth {
  const {
    envPrefix,
    env,
    storeInstance,
    krypto: givenKrypto,
    limiter: givenLimiter,
    apiKeyLimiter: givenKeyLimiter,
    sessions,
    deliver,
    onEvent,
    roles: roleTable,
    breachedPassword,
    now = Date.now,
    ...settings
  } = options
  const resolved = resolveConfig(authSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const v = resolved.values
  checkSettings(v, envPrefix)
  const rbac = compileRoles(roleTable)
  const own = {
    krypto: givenKrypto === undefined,
    store: storeInstance === undefined,
    limiter: givenLimiter === undefined,
  }
  const { krypto, ephemeral } = givenKrypto
    ? { krypto: givenKrypto, ephemeral: false }
    : kryptoFor(options, env ?? (process.env as Record<string, string | undefined>))
  const store =
    storeInstance ??
    (v.store === 'database'
      ? createSqlAuthStore({ ...(v.db.url ? { url: v.db.url } : {}), table: v.db.table })
      : createMemoryAuthStore())
  const limiter =
    givenLimiter === false
      ? undefined
      : (givenLimiter ??
        createLimiter({ envPrefix: false, store: 'memory', limit: v.rateLimit.limit, window: v.rateLimit.window }))
  const ownKeyLimiter = givenKeyLimiter === undefined && v.apiKey.rateLimit > 0
  const apiKeyLimiter =
    givenKeyLimiter === false
      ? undefined
      : (givenKeyLimiter ??
        (ownKeyLimiter
          ? createLimiter({ envPrefix: false, store: 'memory', limit: v.apiKey.rateLimit, window: '1m' })
          : undefined))
  let dummy: Promise<string> | undefined
  const ctx: FlowContext = {
    store,
    krypto,
    jwt: krypto.jwt,
    passwords: krypto.passwords,
    rules: { minLength: v.password.minLength, maxLength: v.password.maxLength, breached: breachedPassword },
    settings: {
      issuer: v.issuer,
      audience: v.audience,
      accessTtl: v.accessTtl,
      refreshTtl: v.refreshTtl,
      familyTtl: v.familyTtl,
      resetTtl: v.resetTtl,
      verifyTtl: v.verifyTtl,
      lockout: v.lockout,
      apiKeyPrefix: v.apiKey.prefix,
    },
    limiter,
    apiKeyLimiter,
    sessions,
    deliver,
    now,
    emit: eventEmitter(onEvent, now),
    dummyHash() {
      dummy ??= krypto.passwords.hash(randomToken())
      dummy.catch(() => (dummy = undefined))
      return dummy
    },
  }
  let closed = false
  const open = (): void => {
    if (closed) throw closedError()
  }
  /** Runs a flow on an open instance; a closed one rejects (never throws synchronously from an async API). */
  const run = <T>(flow: () => Promise<T>): Promise<T> => (closed ? Promise.reject(closedError()) : flow())
  const closedError = (): AuthError => new AuthError('AUTH_CLOSED', 'This auth instance is closed; create a new one.')

  async function principalOf(req: AuthRequest, request?: RequestContext): Promise<Principal | undefined> {
    const token = bearerToken(req.headers)
    if (token !== undefined) {
      if (token.startsWith(ctx.settings.apiKeyPrefix)) return verifyApiKey(ctx, token, request)
      return verifyAccess(ctx, token)
    }
    if (!sessions) return undefined
    const session = await sessions.load({ headers: req.headers })
    if (session.userId === undefined) return undefined
    const user = await store.findUserById(session.userId)
    return user && { userId: user.id, roles: [...user.roles], via: 'session', sessionId: session.id }
  }

  async function authenticate(req: AuthRequest, request?: RequestContext): Promise<Principal | undefined> {
    open()
    const context = request ?? { ip: req.socket?.remoteAddress }
    if (!channels.authenticate.hasSubscribers) return principalOf(req, context)
    return traceAsync(
      channels.authenticate,
      () => ({ scheme: bearerToken(req.headers) === undefined ? (sessions ? 'session' : 'none') : 'bearer' }) as const,
      () => principalOf(req, context),
    )
  }

  async function authorize(req: AuthRequest, rule: AccessRule = {}): Promise<Principal> {
    const p = await authenticate(req)
    if (!p) throw new AuthError('AUTH_UNAUTHENTICATED', 'Sign in first: this needs a Bearer token or a session.')
    const { roles = [], permissions = [] } = rule
    if (roles.length > 0 && !roles.some((r) => rbac.has(p, r)))
      return denied(p, `one of the roles ${roles.join(', ')}`, req)
    const missing = permissions.filter((w) => rbac.permit(p, w).granted !== 'all')
    return missing.length === 0 ? p : denied(p, `the permission ${missing.join(', ')}`, req)
  }

  const permitOf = (subject: Subject, name: string, type?: string): Permit =>
    rbac.permit(subject, type === undefined ? name : permissionName(name, type))

  function denied(p: Principal, what: string, req: AuthRequest): Promise<never> {
    return ctx
      .emit(
        { type: 'auth.accessDenied', outcome: 'failure', userId: p.userId, reason: what },
        { ip: req.socket?.remoteAddress },
      )
      .then(() => {
        throw new AuthError('AUTH_FORBIDDEN', `This needs ${what}.`, { details: { needs: what } })
      })
  }

  const auth: Auth = {
    store: store.name,
    register: (input, request) => run(() => register(ctx, input, request)),
    requestSignUp: (input, request) => run(() => requestSignUp(ctx, input, request)),
    completeSignUp: (token, request) => run(() => completeSignUp(ctx, token, request)),
    login: (input, request) => run(() => login(ctx, input, request)),
    refresh: (token, request) => run(() => rotate(ctx, token, request)),
    logout: (token, request) => run(() => logout(ctx, token, request)),
    logoutAll: (userId, request) => run(() => logoutAll(ctx, userId, request)),
    changePassword: (input, request) => run(() => changePassword(ctx, input, request)),
    requestPasswordReset: (email, request) => run(() => requestPasswordReset(ctx, email, request)),
    requestUnlock: (email, request) => run(() => requestUnlock(ctx, email, request)),
    unlock: (token, request) => run(() => unlock(ctx, token, request)),
    resetPassword: (token, password, request) => run(() => resetPassword(ctx, token, password, request)),
    async sendVerification(userId) {
      open()
      const user = await store.findUserById(userId)
      if (!user) throw new AuthError('AUTH_USER_NOT_FOUND', 'No such user.', { details: { userId } })
      await sendVerification(ctx, user)
    },
    verifyEmail: (token, request) => run(() => verifyEmail(ctx, token, request)),
    async getUser(userId) {
      open()
      const user = await store.findUserById(userId)
      return user && publicUser(user)
    },
    async findUserByEmail(email) {
      open()
      const normalized = loginEmail(email)
      const user = normalized === undefined ? undefined : await store.findUserByEmail(normalized)
      return user && publicUser(user)
    },
    signIn: (userId, { method }, request) =>
      run(async () => {
        const user = await store.findUserById(userId)
        if (!user) throw new AuthError('AUTH_USER_NOT_FOUND', 'No such user.', { details: { userId } })
        const { pair, familyId } = await startFamily(ctx, user)
        await ctx.emit(
          { type: 'auth.login', outcome: 'success', userId, target: familyId, reason: `via:${method}` },
          request,
        )
        return { ...pair, user: publicUser(user) }
      }),
    async setRoles(userId, roles, request) {
      open()
      const unknown = roles.filter((r) => !rbac.known(r))
      if (unknown.length > 0)
        throw new AuthError('AUTH_ROLE_UNKNOWN', `Unknown roles: ${unknown.join(', ')}; add them to the roles table.`)
      if (!(await store.updateUser(userId, { roles: [...new Set(roles)] }, now())))
        throw new AuthError('AUTH_USER_NOT_FOUND', 'No such user.', { details: { userId } })
      await ctx.emit({ type: 'auth.rolesChange', outcome: 'success', userId, target: roles.join(',') }, request)
    },
    verifyAccessToken: (token) => (open(), verifyAccess(ctx, token)),
    authenticate,
    createApiKey: (userId, input, request) => run(() => createApiKey(ctx, userId, input, request)),
    verifyApiKey: (key, request) => run(() => verifyApiKey(ctx, key, request)),
    listApiKeys: (userId) => run(() => listApiKeys(ctx, userId)),
    revokeApiKey: (userId, id, request) => run(() => revokeApiKey(ctx, userId, id, request)),
    can(subject: Subject, name: string, typeOrResource?: string | Resource, resource?: Resource): boolean {
      const typed = typeof typeOrResource === 'string'
      const permit = permitOf(subject, name, typed ? typeOrResource : undefined)
      const target = typed ? resource : typeOrResource
      return target === undefined ? permit.granted === 'all' : permit.allows(target)
    },
    permit: (subject: Subject, name: string, type?: string) => permitOf(subject, name, type),
    authorize,
    hasRole: (subject, role) => rbac.has(subject, role),
    requireAuth: () => middleware((req) => authorize(req)),
    requireRole: (...roles) => middleware((req) => authorize(req, { roles })),
    requirePermission: (...permissions) => middleware((req) => authorize(req, { permissions })),
    requestEmailChange: (input, request) => run(() => requestEmailChange(ctx, input, request)),
    confirmEmailChange: (token, request) => run(() => confirmEmailChange(ctx, token, request)),
    enrollTotp: (userId, request) => run(() => enrollTotp(ctx, userId, request)),
    confirmTotp: (userId, code, request) => run(() => confirmTotp(ctx, userId, code, request)),
    disableTotp: (userId, password, request) => run(() => disableTotp(ctx, userId, password, request)),
    jwks: () => krypto.jwt.jwks(),
    ready: (o = {}) =>
      traceAsync(
        channels.ready,
        () => ({ store: store.name }),
        async () => {
          open()
          o.signal?.throwIfAborted()
          await store.ready()
        },
      ),
    describe: () =>
      describeInstance('auth', envPrefix, resolved.entries, {
        store: store.name,
        keys: ephemeral ? 'ephemeral (random, dies with the process)' : 'configured',
        signingKid: krypto.jwt.currentKid,
        closed,
      }),
    async close() {
      if (closed) return
      closed = true
      if (own.store) await store.close()
      if (own.limiter && limiter && 'close' in limiter) await (limiter as { close(): Promise<void> }).close()
      if (ownKeyLimiter && apiKeyLimiter && 'close' in apiKeyLimiter)
        await (apiKeyLimiter as { close(): Promise<void> }).close()
      if (own.krypto) await krypto.close()
    },
    [Symbol.asyncDispose]: () => auth.close(),
  }
  return auth
}
