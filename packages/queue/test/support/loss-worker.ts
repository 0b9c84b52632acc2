// One worker process of the loss test: consumes in manual-ack mode and writes, synchronously
// (so the lines survive SIGKILL), `S <id>` when a handler starts and `A <id>` once its ack()
// resolved (the backend answered it; on RabbitMQ, the frame was written to the socket).
// Once the file `<log>.hold` exists, every handler that starts holds before its ack until the
// process is killed, after writing `H <id>`: the test creates the file before a SIGKILL and
// waits for an H line, so the kill lands mid-handling.
import { existsSync, openSync, writeSync } from 'node:fs'
import { createQueue } from '@beaver-kit/queue'

const env = process.env as Record<string, string>
const { LOSS_DRIVER, LOSS_NS, LOSS_LOG, LOSS_OPTIONS } = env as {
  LOSS_DRIVER: string
  LOSS_NS: string
  LOSS_LOG: string
  LOSS_OPTIONS: string
}
const fd = openSync(LOSS_LOG, 'a')
const hold = `${LOSS_LOG}.hold`
const q = createQueue({
  driver: LOSS_DRIVER,
  envPrefix: false,
  namespace: LOSS_NS,
  pollInterval: '100ms',
  leaseTime: '5s',
  keepCompletedMax: 100_000,
  ...(JSON.parse(LOSS_OPTIONS) as Record<string, unknown>),
})
await q.consume(
  'loss',
  async (m, ctx) => {
    writeSync(fd, `S ${m.id}\n`)
    await new Promise((r) => setTimeout(r, 2))
    if (existsSync(hold)) {
      writeSync(fd, `H ${m.id}\n`)
      await new Promise(() => {})
    }
    await ctx.ack()
    writeSync(fd, `A ${m.id}\n`)
  },
  { ack: 'manual', concurrency: 20 },
)
writeSync(fd, 'READY\n')
process.on('SIGTERM', () => void q.close().then(() => process.exit(0)))
