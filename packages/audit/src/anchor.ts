import { importPeer } from '@beaver-kit/core'
import { canonicalJson } from './canonical.ts'
import { AuditError } from './errors.ts'
import type { AuditAnchor } from './store.ts'

/** Signs and checks anchors with one key (a public key can only check). */
export interface AnchorSigner {
  readonly alg: string
  readonly canSign: boolean
  /** Signs (only when canSign: the facade checks). */
  sign(anchor: Omit<AuditAnchor, 'signature' | 'alg'>): string
  verify(anchor: AuditAnchor): boolean
}

/** The bytes an anchor's signature covers. */
function signedBytes(a: Omit<AuditAnchor, 'signature'>): Buffer {
  return Buffer.from(canonicalJson({ v: 1, stream: a.stream, seq: a.seq, hash: a.hash, at: a.at, alg: a.alg }))
}

/**
 * Loads krypto (an optional peer) and the key. HMAC algorithms take a secret; the others a
 * private key (to sign and check) or a public key (to check only, for an auditor).
 */
export async function loadSigner(key: unknown, alg: string): Promise<AnchorSigner> {
  const k = await importPeer('@beaver-kit/krypto', () => import('@beaver-kit/krypto'), 'signed audit anchors')
  type Jws = Parameters<typeof k.signBytes>[0]
  const jws = alg as Jws
  let keyObject
  try {
    keyObject = k.importKey(key as Parameters<typeof k.importKey>[0])
  } catch (error) {
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      `BEAVER_AUDIT_ANCHOR_KEY could not be read as a ${alg} key: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  const hmac = alg.startsWith('HS')
  if (hmac !== (keyObject.type === 'secret')) {
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      `BEAVER_AUDIT_ANCHOR_KEY is a ${keyObject.type} key but BEAVER_AUDIT_ANCHOR_ALGORITHM is ${alg}; HS* takes a secret, the others a private or public key`,
    )
  }
  const canSign = keyObject.type !== 'public'
  const verifyKey = hmac || keyObject.type === 'public' ? keyObject : k.publicKeyOf(keyObject)
  return {
    alg,
    canSign,
    sign(anchor) {
      return k.signBytes(jws, signedBytes({ ...anchor, alg }), keyObject).toString('base64url')
    },
    verify(anchor) {
      if (anchor.alg !== alg) return false
      return k.verifyBytes(jws, signedBytes(anchor), Buffer.from(anchor.signature, 'base64url'), verifyKey)
    },
  }
}
