import { OAuthError } from './errors.ts'
import type { OAuthProfile } from './types.ts'

/** What to do with a profile that just signed in. */
export type LinkDecision =
  /** This provider identity is already linked to the user. */
  | { action: 'sign-in'; userId: string }
  /** An account has this email and the provider verified it: link, then sign in. */
  | { action: 'link'; userId: string }
  /**
   * An account has this email but the provider did not verify it: anyone could have typed it
   * there. Ask the user to sign in to that account (password, passkey) and confirm the link.
   */
  | { action: 'confirm'; userId: string; reason: 'email-unverified' }
  /** Nobody has this identity or email: create an account. */
  | { action: 'create' }

/** Your user lookups. */
export interface LinkLookups {
  /** The user this provider identity is linked to. */
  findUserByIdentity(provider: string, providerUserId: string): Promise<string | undefined>
  /** The user with this email (given lower-cased and trimmed). */
  findUserByEmail(email: string): Promise<string | undefined>
}

/**
 * The safe account-linking policy: an identity already linked signs in; otherwise an existing
 * account is linked automatically only when the provider verified the email, and needs the
 * account owner's explicit confirmation when it did not (the "nOAuth" takeover: a provider
 * that lets users type any email must never open someone else's account).
 * @example
 * const decision = await decideLink(result.profile, { findUserByIdentity, findUserByEmail })
 */
export async function decideLink(profile: OAuthProfile, lookups: LinkLookups): Promise<LinkDecision> {
  const linked = await lookups.findUserByIdentity(profile.provider, profile.id)
  if (linked !== undefined) return { action: 'sign-in', userId: linked }
  const email = profile.email?.trim().toLowerCase()
  if (email === undefined || email === '') return { action: 'create' }
  const owner = await lookups.findUserByEmail(email)
  if (owner === undefined) return { action: 'create' }
  return profile.emailVerified
    ? { action: 'link', userId: owner }
    : { action: 'confirm', userId: owner, reason: 'email-unverified' }
}

/**
 * Throws OAUTH_LINK_CONFIRMATION_REQUIRED for a `confirm` decision unless the owner confirmed
 * (signed in to that account in this session); returns the user to link otherwise.
 */
export function linkTarget(
  decision: LinkDecision,
  options: { confirmedBy?: string | undefined } = {},
): string | undefined {
  if (decision.action === 'create') return undefined
  if (decision.action === 'confirm' && options.confirmedBy !== decision.userId)
    throw new OAuthError(
      'OAUTH_LINK_CONFIRMATION_REQUIRED',
      'An account already uses this email, which the provider did not verify: its owner must sign in and confirm the link',
      { details: { reason: decision.reason } },
    )
  return decision.userId
}
