import type { JsMsg } from '@nats-io/jetstream'
import { ENVELOPE_HEADER, decodeEnvelope, foreignEnvelope, type BrokerEnvelope } from './broker-message.ts'
import type { NatsHandles } from './nats-link.ts'
import type { NatsQueueNames } from './nats-names.ts'
import { PullLoop } from './nats-pull-loop.ts'

// A nak delay longer than this is renewed by the next look, so a server restart or a clock
// change never holds a message much past its time.
const MAX_NAK_MS = 3_600_000
const EARLY_MS = 5

/** Publishes to a subject and resolves once the stream has it (the driver's publish). */
export type NatsPublish = (subject: string, body: string, envelope: BrokerEnvelope, msgId: string) => Promise<void>

/**
 * Moves delayed messages to the ready subject when they are due. nats-server 2.9 has no
 * per-message schedule (message schedules came with 2.12), so a delayed message is published
 * to the queue's `delayed` subject, whose own durable consumer (no delivery limit) looks at
 * it: not due yet, it is nak'ed with the time left as the redelivery delay (the server holds
 * it that long); due, it is published to `jobs` (Nats-Msg-Id `<id>:due:<seq>`, so a mover
 * that crashes before its ack is deduped) and acknowledged. Every consuming process runs one
 * mover per queue; the consumer hands each message to one of them.
 */
export function moveDelayed(
  handles: () => Promise<NatsHandles>,
  queue: string,
  names: NatsQueueNames,
  now: () => number,
  publish: NatsPublish,
): PullLoop {
  return new PullLoop(handles, {
    stream: names.stream,
    durable: names.mover,
    config: ({ jetstream }) => ({
      ack_policy: jetstream.AckPolicy.Explicit,
      ack_wait: 30_000 * 1_000_000,
      max_deliver: -1,
      max_ack_pending: -1,
      filter_subject: names.delayed,
    }),
    async look(m: JsMsg): Promise<void> {
      // A message another program published here has no time: it is due now.
      const envelope = decodeEnvelope(m.headers?.get(ENVELOPE_HEADER)) ?? foreignEnvelope(`${m.seq}`, queue, now())
      const wait = envelope.runAt - now()
      if (wait > EARLY_MS) {
        m.nak(Math.min(wait, MAX_NAK_MS))
        return
      }
      await publish(names.jobs, m.string(), envelope, `${envelope.id}:due:${m.seq}`)
      m.ack()
    },
  })
}
