// A stand-in for a @beaver-kit/queue Queue with the semantics queued sending relies on: a
// publish with an existing id is a no-op answering that id; a handler that throws is retried
// up to `attempts` times, then dead-lettered; `crashAfterHandler` simulates a worker that sent
// but died before acknowledging (the job is delivered again).
export interface StandInJob {
  id: string
  payload: unknown
  attempts: number
  state: 'waiting' | 'done' | 'dead'
  runAt: number
}

export interface StandInQueue {
  publish(
    queue: string,
    payload: unknown,
    options?: { id?: string; delay?: number | string; runAt?: Date | number; priority?: number },
  ): Promise<string>
  consume(
    queue: string,
    handler: (message: { id: string; payload: unknown }, context: { signal: AbortSignal; attempt: number }) => unknown,
    options?: { concurrency?: number },
  ): Promise<{ close(): Promise<void> }>
  /** Jobs by queue name. */
  readonly jobs: Map<string, StandInJob[]>
  /** Delivers every waiting job once (or until `rounds` passes); resolves when handlers settled. */
  drain(rounds?: number): Promise<void>
  /** The next successful delivery is repeated once, as if the worker died before its ack. */
  crashAfterHandler(): void
}

export function createStandInQueue(attempts = 3): StandInQueue {
  const jobs = new Map<string, StandInJob[]>()
  const handlers = new Map<
    string,
    (message: { id: string; payload: unknown }, context: { signal: AbortSignal; attempt: number }) => unknown
  >()
  let crash = false
  let next = 0
  return {
    jobs,
    async publish(queue, payload, options = {}) {
      const list = jobs.get(queue) ?? []
      jobs.set(queue, list)
      const id = options.id ?? `job-${++next}`
      if (list.some((j) => j.id === id)) return id
      const runAt =
        options.runAt instanceof Date
          ? options.runAt.getTime()
          : typeof options.runAt === 'number'
            ? options.runAt
            : Date.now()
      list.push({ id, payload: JSON.parse(JSON.stringify(payload)) as unknown, attempts: 0, state: 'waiting', runAt })
      return id
    },
    async consume(queue, handler) {
      handlers.set(queue, handler)
      return {
        close: async () => {
          handlers.delete(queue)
        },
      }
    },
    crashAfterHandler() {
      crash = true
    },
    async drain(rounds = 10) {
      for (let r = 0; r < rounds; r++) {
        let ran = false
        for (const [queue, list] of jobs) {
          const handler = handlers.get(queue)
          if (!handler) continue
          for (const job of list.filter((j) => j.state === 'waiting')) {
            ran = true
            job.attempts++
            try {
              await handler(
                { id: job.id, payload: job.payload },
                { signal: new AbortController().signal, attempt: job.attempts },
              )
              if (crash) crash = false
              else job.state = 'done'
            } catch {
              if (job.attempts >= attempts) job.state = 'dead'
            }
          }
        }
        if (!ran) return
      }
    },
  }
}
