// The envelope every broker message carries in a header: a broker parses, stores and hands
// back each of its bytes with every message, so fields holding the decoder's defaults are left
// out; whatever is left out must come back exactly, and envelopes in the older full form
// (messages still waiting in a queue) must still read. A fresh message with every default and an
// id the kit made says nothing its id and queue do not, and may travel with no envelope at all.
import { describe, expect, it } from 'vitest'
import {
  bareEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  isBareEnvelope,
  type BrokerEnvelope,
} from '../src/drivers/broker-message.ts'
import { newMessageId } from '../src/message-id.ts'

const fresh: BrokerEnvelope = {
  id: 'm-1',
  queue: 'ns/emails',
  headers: {},
  priority: 0,
  runAt: 1_800_000_000_000,
  maxAttempts: 3,
  backoffBaseMs: 1000,
  backoffMaxMs: 300_000,
  timeoutMs: 0,
  group: undefined,
  createdAt: 1_800_000_000_000,
  attempts: 0,
  lastError: undefined,
}

const everything: BrokerEnvelope = {
  id: 'm-2',
  queue: 'ns/emails',
  headers: { traceparent: '00-abc-def-01', tenant: 't1' },
  priority: 5,
  runAt: 1_800_000_060_000,
  maxAttempts: 7,
  backoffBaseMs: 250,
  backoffMaxMs: 60_000,
  timeoutMs: 30_000,
  group: 'acct-9',
  createdAt: 1_800_000_000_000,
  attempts: 2,
  lastError: 'boom',
  deadReason: 'attempts exhausted (7 of 7)',
  deadAt: 1_800_000_100_000,
}

describe('broker envelope', () => {
  it('leaves out every field that holds its default, and reads them back', () => {
    const text = encodeEnvelope(fresh)
    expect(JSON.parse(text)).toEqual({ i: 'm-1', q: 'ns/emails', c: 1_800_000_000_000 })
    expect(decodeEnvelope(text)).toEqual({ ...fresh, deadReason: undefined, deadAt: undefined })
  })

  it('round-trips every field that differs from its default', () => {
    const text = encodeEnvelope(everything)
    expect(decodeEnvelope(text)).toEqual(everything)
    expect(decodeEnvelope(Buffer.from(text))).toEqual(everything)
  })

  it('reads the full form earlier versions wrote', () => {
    expect(decodeEnvelope(JSON.stringify(everything))).toEqual(everything)
  })

  it('ignores fields it does not know (the RabbitMQ publish tag)', () => {
    const tagged = `{"k":12,${encodeEnvelope(everything).slice(1)}`
    expect(decodeEnvelope(tagged)).toEqual(everything)
  })

  it('takes a header that is no envelope for a foreign message', () => {
    for (const text of ['not json', '42', 'null', '{"q":"x"}', '{"i":"a","q":"b"}', undefined, 7]) {
      expect(decodeEnvelope(text)).toBeUndefined()
    }
  })

  it('sends a fresh message with every default and a kit-made id bare, and reads it back whole', () => {
    const createdAt = 1_800_000_000_123
    const bare = { ...fresh, id: newMessageId(createdAt), runAt: createdAt, createdAt }
    expect(isBareEnvelope(bare)).toBe(true)
    expect(bareEnvelope(bare.id, 'ns/emails')).toEqual(bare)
  })

  it('keeps the envelope for anything a message id and queue cannot say', () => {
    const createdAt = 1_800_000_000_123
    const bare = { ...fresh, id: newMessageId(createdAt), runAt: createdAt, createdAt }
    const differing: Partial<BrokerEnvelope>[] = [
      { id: 'job-42' },
      { id: newMessageId(createdAt + 1) },
      { headers: { traceparent: '00-abc-def-01' } },
      { priority: 1 },
      { runAt: createdAt + 60_000 },
      { maxAttempts: 5 },
      { backoffBaseMs: 250 },
      { backoffMaxMs: 60_000 },
      { timeoutMs: 1000 },
      { group: 'g' },
      { attempts: 1 },
      { lastError: 'boom' },
      { deadReason: 'attempts exhausted' },
      { deadAt: createdAt },
    ]
    for (const change of differing) expect(isBareEnvelope({ ...bare, ...change }), JSON.stringify(change)).toBe(false)
    expect(bareEnvelope('job-42', 'ns/emails')).toBeUndefined()
  })
})
