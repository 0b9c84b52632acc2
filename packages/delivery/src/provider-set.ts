import { buildMembers, closeMembers, createRouter, type TargetState } from './router.ts'

/** What a member of a provider set needs: a name, `close()`, and `verify()` when it can check itself. */
export interface ProviderSetMember {
  readonly name: string
  verify?(options: { signal?: AbortSignal | undefined }): Promise<void>
  close(): Promise<void>
}

/** A member's failure, in the order the set tried them. */
export interface MemberFailure {
  readonly target: string
  readonly error: unknown
}

export interface ProviderSetOptions {
  /** `failover` (default): always the first healthy member; `round-robin`: rotate the first choice per call. */
  strategy?: 'failover' | 'round-robin' | undefined
  /** Consecutive failures after which a member is tried last for `cooldownMs`; 0 never. Default 3. */
  failures?: number | undefined
  /** Default 30 s. */
  cooldownMs?: number | undefined
}

/** What the package that owns the set decides: which failures move on, and its own errors and channels. */
export interface ProviderSetPolicy {
  /** Whether a failure means "try the next member" (down, throttling, credentials) rather than "this message is wrong". */
  shouldFailover(error: unknown): boolean
  /** The package's error for a set without members. */
  empty(): Error
  /** The package's error when every member failed; `summary` reads `ses: down; smtp: refused`. */
  exhausted(summary: string, failures: readonly MemberFailure[]): Error
  /** A call moved on from a failed member; `code` is its error's code (`UNKNOWN` when it has none). */
  onFailover?(event: { from: string; to: string; code: string }): void
  /** A member's breaker opened (tried last) or closed (back in its place). */
  onBreakerChange?(event: { target: string; state: 'open' | 'closed' }): void
}

/** A failover or round-robin set of built members, with their health. */
export interface ProviderSet<T extends ProviderSetMember> {
  readonly name: 'failover' | 'round-robin'
  readonly members: readonly T[]
  /** Calls `fn` with one member after another until one succeeds; resolves with its value and the member. */
  run<R>(
    fn: (member: T) => Promise<R>,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<{ value: R; target: T }>
  /** Ready when any member is: that is when the set can send. */
  verify(options: { signal?: AbortSignal | undefined }): Promise<void>
  state(): TargetState[]
  /** Closes every member (all of them, even when one fails). */
  close(): Promise<void>
}

const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/** Each failure as `member: message`, joined: the text of the "every member failed" error. */
export function summarizeFailures(failures: readonly MemberFailure[]): string {
  return failures.map((f) => `${f.target}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ')
}

/**
 * The composite behind mail's and SMS's `failover` and `round-robin` drivers: routes each call
 * through built members with a breaker per member, and leaves the package its errors, its
 * channels and the shape of what a member returns. Receives BUILT members, and closes them.
 * @example
 * const set = createProviderSet([ses, smtp], {}, { shouldFailover, empty, exhausted })
 * const { value, target } = await set.run((t) => t.send(mail, { signal }))
 */
export function createProviderSet<T extends ProviderSetMember>(
  members: readonly T[],
  options: ProviderSetOptions,
  policy: ProviderSetPolicy,
): ProviderSet<T> {
  if (members.length === 0) throw policy.empty()
  const { onFailover, onBreakerChange } = policy
  const name = options.strategy ?? 'failover'
  const router = createRouter(members, {
    strategy: name,
    failureThreshold: options.failures,
    cooldownMs: options.cooldownMs,
    shouldFailover: policy.shouldFailover,
    exhausted: (failures) => policy.exhausted(summarizeFailures(failures), failures),
    ...(onFailover ? { onFailover: ({ from, to, error }) => onFailover({ from, to, code: codeOf(error) }) } : {}),
    ...(onBreakerChange ? { onBreakerChange } : {}),
  })
  return {
    name,
    members,
    run: (fn, runOptions) => router.run(fn, runOptions),
    async verify(verifyOptions) {
      await router.run(async (member) => member.verify?.(verifyOptions), verifyOptions)
    },
    state: () => router.state(),
    close: () => closeMembers(members, `the ${name} set`),
  }
}

/** A member of a composite sender: a built mail transport or SMS driver. */
export interface CompositeMember extends ProviderSetMember {
  readonly capabilities: { readonly idempotencyKeys: boolean }
  send(message: never, options: { readonly signal?: AbortSignal | undefined }): Promise<object>
}

type MessageOf<T extends CompositeMember> = Parameters<T['send']>[0]
type ReceiptOf<T extends CompositeMember> = Awaited<ReturnType<T['send']>>

/** A failover or round-robin set that sends like one of its members. */
export interface CompositeSender<T extends CompositeMember> {
  readonly name: 'failover' | 'round-robin'
  readonly members: readonly T[]
  /** Retried by each member; idempotent only when every member is. */
  readonly capabilities: { readonly retries: true; readonly idempotencyKeys: boolean }
  send(message: MessageOf<T>, options: { readonly signal?: AbortSignal | undefined }): Promise<ReceiptOf<T>>
  verify(options: { signal?: AbortSignal | undefined }): Promise<void>
  state(): TargetState[]
  close(): Promise<void>
}

/**
 * A provider set shaped as a sender (mail's failover transport, SMS's failover driver): each
 * message goes to one member after another, and `label` marks the receipt with the member
 * that took it.
 */
export function createCompositeSender<T extends CompositeMember>(
  members: readonly T[],
  options: ProviderSetOptions,
  policy: ProviderSetPolicy & { label(receipt: ReceiptOf<T>, member: T): ReceiptOf<T> },
): CompositeSender<T> {
  const set = createProviderSet(members, options, policy)
  return {
    name: set.name,
    members,
    capabilities: Object.freeze({
      retries: true,
      idempotencyKeys: members.every((m) => m.capabilities.idempotencyKeys),
    }),
    send: (message, sendOptions) =>
      set
        .run((member) => member.send(message as never, sendOptions) as Promise<ReceiptOf<T>>, sendOptions)
        .then(({ value, target }) => policy.label(value, target)),
    verify: (verifyOptions) => set.verify(verifyOptions),
    state: () => set.state(),
    close: () => set.close(),
  }
}

/**
 * Builds the members a setting names (`BEAVER_MAIL_FAILOVER_TRANSPORTS=ses,smtp`), in order;
 * `empty()` when it names none. A member that fails to build closes the ones already built.
 */
export async function buildProviderSetMembers<T extends { close(): Promise<void> }>(
  names: readonly string[] | undefined,
  build: (name: string) => Promise<T>,
  empty: () => Error,
): Promise<T[]> {
  if (!names || names.length === 0) throw empty()
  return buildMembers(names, build)
}
