export { createAuth } from './auth.ts'
export type { Auth, AuthOptions } from './auth.ts'
export { auth, initAuth, resetAuth, withPrefix } from './default.ts'
export { AuthError, isAuthError } from './errors.ts'
export type { AuthErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { authSchema } from './config.ts'
export type { AuthSettings } from './config.ts'
export type { AuthEvent, AuthEventSink, AuthEventType, RequestContext } from './events.ts'
export { auditSink } from './audit-sink.ts'
export type { AuditRecorder, AuditSinkOptions } from './audit-sink.ts'
export type { AuthDeliver, AuthMessage, LoginLimiter, PublicUser, SessionSource } from './context.ts'
export type { ChangePasswordInput, LoginInput, LoginResult, RegisterInput } from './account.ts'
export type { TotpEnrollment } from './totp.ts'
export type { Principal, TokenPair } from './tokens.ts'
export type { ApiKeyInfo, ApiKeyInput, CreatedApiKey } from './api-keys.ts'
export type { ConditionalGrant, Permit, RoleDefinition, RoleTable, Subject } from './rbac.ts'
export type { Conditions, ConditionValue, FieldOperators, Resource, WhereOptions } from './conditions.ts'
export { authErrorResponse, bearerToken, sendAuthError } from './http.ts'
export type { AccessRule, AuthMiddleware, AuthRequest, AuthResponse } from './http.ts'
export type { BreachedPasswordCheck } from './passwords.ts'
export type {
  ApiKeyRecord,
  AuthStore,
  FailureCounter,
  OneTimeRecord,
  RefreshRecord,
  RefreshUse,
  UserPatch,
  UserRecord,
} from './store.ts'
export { createMemoryAuthStore } from './stores/memory.ts'
export type { MemoryAuthStoreOptions } from './stores/memory.ts'
export { createSqlAuthStore } from './stores/sql.ts'
export type { SqlAuthStoreOptions } from './stores/sql.ts'
