// The SMTP sink of the benchmark, in its own process (pinned to CPU 1 by run.ts when taskset
// exists), so the server's work does not share the client's core: accepts and discards.
import { startSmtpSink } from '@beaver-kit/testkit/smtp-sink'

const sink = await startSmtpSink({ capture: false })
process.stdout.write(`${sink.port}\n`)
process.on('message', (m) => {
  if (m === 'count') process.send?.(sink.accepted())
})
process.on('SIGTERM', () => {
  void sink.stop().then(() => process.exit(0))
})
