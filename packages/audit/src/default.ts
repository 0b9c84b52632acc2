import { defineDefaultInstance } from '@beaver-kit/core'
import { createAudit, type Audit, type AuditOptions } from './audit.ts'

const slot = defineDefaultInstance<Audit, AuditOptions>('audit', createAudit)

/** The default audit, built on first use from `BEAVER_AUDIT_*`; rethrows its configuration error until fixed. */
export const audit: () => Audit = slot.get
/** Configures the default audit before its first use; throws once it exists. */
export const initAudit: (options?: AuditOptions) => Audit = slot.init
/** Closes and forgets the default audit (tests); the next `audit()` builds a new one. */
export const resetAudit: () => Promise<void> = slot.reset
/** A new audit configured from another env prefix: `withPrefix('USER_')` reads `USER_AUDIT_*`. */
export const withPrefix: (prefix: string, options?: Omit<AuditOptions, 'envPrefix'>) => Audit = slot.withPrefix
