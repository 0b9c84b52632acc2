// The loss test: 20,000 messages, three worker processes, two of them SIGKILLed mid-handling
// and restarted. Every message must be acknowledged at least once, none lost, and a message
// may run twice only if a killed process had started it without its acknowledgement landing
// (on RabbitMQ, whose acks nothing answers, anything a killed process had started).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue } from '@beaver-kit/queue'
import { deleteNatsStreams, natsTestPrefix } from './support/nats-streams.ts'

const TOTAL = Number(process.env.LOSS_TOTAL ?? 20_000)
const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-loss-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const worker = fileURLToPath(new URL('./support/loss-worker.ts', import.meta.url))

const backends: Array<[string, string, string | undefined]> = [
  ['sqlite', 'sqlite', `sqlite:${join(dir, 'loss.db')}`],
  ['postgres', 'postgres', await requireService('postgres')],
  ['mariadb', 'mysql', await requireService('mariadb')],
  ['redis', 'redis', await requireService('redis')],
  ['nats', 'nats', await requireService('nats')],
  ['rabbitmq', 'rabbitmq', await requireService('rabbitmq')],
]
// NATS streams under a prefix of their own, deleted afterwards: the server is shared.
const natsPrefix = natsTestPrefix()
afterAll(async () => {
  const nats = backends.find(([label]) => label === 'nats')?.[2]
  if (nats) await deleteNatsStreams(nats, natsPrefix)
})

/** The driver options of a backend, as the test and its workers build them. */
function driverOptions(driver: string, url: string): Record<string, unknown> {
  if (driver === 'redis') return { redis: { url } }
  if (driver === 'nats') return { nats: { servers: [url], prefix: natsPrefix } }
  // Queues of a namespace nobody uses any more go after a while: the server is shared.
  if (driver === 'rabbitmq') return { rabbitmq: { url, expires: '10m' } }
  return { db: { url } }
}

interface Proc {
  child: ChildProcess
  log: string
  killed: boolean
}

function startWorker(driver: string, url: string, ns: string, log: string): Proc {
  const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', worker], {
    env: {
      ...process.env,
      LOSS_DRIVER: driver,
      LOSS_NS: ns,
      LOSS_LOG: log,
      LOSS_OPTIONS: JSON.stringify(driverOptions(driver, url)),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  return { child, log, killed: false }
}

function lines(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

async function kill(p: Proc): Promise<void> {
  p.killed = true
  await new Promise<void>((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve()
    p.child.once('exit', () => resolve())
    p.child.kill('SIGKILL')
  })
}

for (const [label, driver, url] of backends) {
  describe.runIf(url)(`loss test on ${label}`, () => {
    it(
      'handles 20,000 messages through two SIGKILLs with duplicates only for killed handlers',
      { timeout: 240_000 },
      async () => {
        const ns = uniqueNamespace('loss')
        const options = driverOptions(driver, url as string)
        await using q = createQueue({ driver, envPrefix: false, namespace: ns, keepCompletedMax: 100_000, ...options })
        for (let i = 0; i < TOTAL; i += 1000) {
          await q.publishBatch(
            'loss',
            Array.from({ length: 1000 }, (_, k) => ({ payload: i + k, id: `m${i + k}` })),
          )
        }
        const procs: Proc[] = []
        const spawnOne = (n: number): Proc => {
          const p = startWorker(driver, url as string, ns, join(dir, `${label}-${n}.log`))
          procs.push(p)
          return p
        }
        const w1 = spawnOne(1)
        const w2 = spawnOne(2)
        spawnOne(3)
        const holding = (p: Proc): number => lines(p.log).filter((l) => l.startsWith('H ')).length
        const acked = (): number => procs.reduce((n, p) => n + lines(p.log).filter((l) => l.startsWith('A ')).length, 0)
        try {
          // Kill each victim while it has handlers running: once its hold file exists, handlers
          // it starts never ack and say so with an H line, so the SIGKILL lands mid-handling.
          await eventually(() => expect(acked()).toBeGreaterThan(TOTAL * 0.15), { timeoutMs: 120_000, intervalMs: 50 })
          writeFileSync(`${w1.log}.hold`, '')
          await eventually(() => expect(holding(w1)).toBeGreaterThan(0), { timeoutMs: 60_000, intervalMs: 5 })
          await kill(w1)
          spawnOne(4)
          await eventually(() => expect(acked()).toBeGreaterThan(TOTAL * 0.5), { timeoutMs: 120_000, intervalMs: 50 })
          writeFileSync(`${w2.log}.hold`, '')
          await eventually(() => expect(holding(w2)).toBeGreaterThan(0), { timeoutMs: 60_000, intervalMs: 5 })
          await kill(w2)
          spawnOne(5)
          await eventually(
            async () => {
              const counts = await q.counts('loss')
              if (process.env.LOSS_DEBUG) console.log(label, counts, acked())
              if ((await q.capabilities()).history) expect(counts.completed).toBe(TOTAL)
              else {
                // A broker keeps no completed messages: it must hold none any more, in any state.
                expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, dead: 0 })
                expect(new Set(procs.flatMap((p) => lines(p.log).filter((l) => l.startsWith('S ')))).size).toBe(TOTAL)
              }
            },
            { timeoutMs: 180_000, intervalMs: 500 },
          )
        } finally {
          for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) await kill(p)
        }
        const starts = new Map<string, number>()
        const ackedIds = new Set<string>()
        const killedUnacked = new Set<string>()
        const killedStarted = new Set<string>()
        for (const p of procs) {
          const own = lines(p.log)
          const ownAcked = new Set(own.filter((l) => l.startsWith('A ')).map((l) => l.slice(2)))
          for (const l of own) {
            if (l.startsWith('S ')) {
              const id = l.slice(2)
              starts.set(id, (starts.get(id) ?? 0) + 1)
              if (p === w1 || p === w2) killedStarted.add(id)
              if ((p === w1 || p === w2) && !ownAcked.has(id)) killedUnacked.add(id)
            }
          }
          for (const id of ownAcked) ackedIds.add(id)
        }
        // AMQP 0-9-1 has no confirmation of an ack: amqplib's ack() is a frame written to the
        // socket, so a SIGKILL can drop acks the worker had already logged, and the broker rightly
        // delivers those messages again. There a duplicate may be anything a killed worker started;
        // on the other backends an ack is answered, so only what it had not acknowledged.
        const mayRunTwice = driver === 'rabbitmq' ? killedStarted : killedUnacked
        const duplicates = [...starts].filter(([, n]) => n > 1).map(([id]) => id)
        // Nothing lost: the backend counts every message completed (checked above) and every one
        // was started; an ack that landed just before its process was killed has no A line.
        expect(starts.size).toBe(TOTAL)
        expect(ackedIds.size).toBeGreaterThan(TOTAL - killedUnacked.size - 1)
        // The kills really happened mid-handling.
        expect(killedUnacked.size).toBeGreaterThan(0)
        // Every duplicate is a message a killed process had started (and, where acks are
        // answered, not acknowledged): no surviving worker ever ran a message twice.
        expect(duplicates.filter((id) => !mayRunTwice.has(id))).toEqual([])
        console.log(
          `[loss ${label}] ${TOTAL} acknowledged, ${killedUnacked.size} in flight in killed workers, ${duplicates.length} ran twice`,
        )
      },
    )
  })
}
