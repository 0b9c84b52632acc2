import type { AnchorSigner } from './anchor.ts'
import type { AuditStore } from './store.ts'
import type { ChainProblem, VerifyResult } from './verify.ts'

/**
 * Checks a stream's signed anchors against its chain: each signature, and that the record at
 * each anchored seq (or the checkpoint, once retention reached it) still has the anchored
 * hash. An anchor is what catches a chain rewritten and re-hashed from some record on, or cut
 * short together with its head: both look intact from the inside.
 */
export async function checkAnchors(
  store: AuditStore,
  stream: string,
  chain: Omit<VerifyResult, 'anchors'>,
  signer: AnchorSigner,
): Promise<{ checked: number; problem?: ChainProblem }> {
  const anchors = await store.anchors(stream)
  let checked = 0
  for (const a of anchors) {
    if (a.seq < chain.base.seq) continue
    checked++
    if (!signer.verify(a)) {
      return {
        checked,
        problem: { kind: 'anchor', seq: a.seq, message: `The anchor of #${a.seq} has a wrong signature` },
      }
    }
    if (a.seq > chain.head.seq) {
      return {
        checked,
        problem: {
          kind: 'deleted',
          seq: chain.head.seq + 1,
          message: `A signed anchor vouches for #${a.seq} but the chain ends at #${chain.head.seq}: its end was deleted`,
        },
      }
    }
    const hash = a.seq === chain.base.seq ? chain.base.hash : (await store.chain(stream, a.seq - 1, 1))[0]?.hash
    if (hash !== a.hash) {
      return {
        checked,
        problem: {
          kind: 'altered',
          seq: a.seq,
          message: `Record #${a.seq} does not carry the hash its signed anchor vouches for: the chain was rewritten`,
        },
      }
    }
  }
  return { checked }
}
