// Another process for the concurrency tests: opens the database (a SQLite file or a server)
// named in argv and prints "ready"; then each line on stdin is a number of records to append to
// the stream one after another (racing the other processes for the stream's head), answered
// with their seqs as JSON. It closes when stdin does.
import { createInterface } from 'node:readline'
import { createDatabase } from '@beaver-kit/database'
import { createAudit } from '@beaver-kit/audit'

interface Job {
  url: string
  table: string
  stream: string
}

const job = JSON.parse(process.argv[2] as string) as Job
const database = createDatabase({ url: job.url, envPrefix: false })
const trail = createAudit({ envPrefix: false, database, db: { table: job.table } })
await trail.ready()
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  const seqs: number[] = []
  for (let i = 0; i < Number(line); i++) {
    seqs.push((await trail.record({ stream: job.stream, action: 'w', metadata: { pid: process.pid, i } })).seq)
  }
  process.stdout.write(`${JSON.stringify(seqs)}\n`)
}
await trail.close()
await database.close()
