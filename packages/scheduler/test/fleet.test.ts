// Three real processes with the same schedules over one store (SQLite file, PostgreSQL,
// MariaDB, Redis), for over a minute of every-second occurrences, the four stores side by side:
// every occurrence runs exactly once across them, none is lost; pause and a
// manual trigger from a fourth process apply fleet-wide; a process killed mid-run leaves its
// history row marked abandoned once its lease expires.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, it } from 'vitest'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createScheduler } from '@beaver-kit/scheduler'

const dir = mkdtempSync(join(tmpdir(), 'beaver-scheduler-fleet-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const worker = fileURLToPath(new URL('./support/fleet-worker.ts', import.meta.url))

const backends: Array<[string, string | undefined]> = [
  ['sqlite', `sqlite:${join(dir, 'fleet.db')}`],
  ['postgres', await requireService('postgres')],
  ['mysql', await requireService('mariadb')],
  ['redis', await requireService('redis')],
]

function lines(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

const SECONDS = 60

describe('fleets of three processes, one per store, side by side', () => {
  for (const [store, url] of backends) {
    ;(url ? it.concurrent : it.skip)(
      `on ${store}: runs each of ${SECONDS}+ occurrences once and none is lost, applies controls fleet-wide, and marks a killed run abandoned`,
      { timeout: 240_000 },
      async ({ expect }) => {
        const ns = uniqueNamespace('fleet')
        const log = join(dir, `${ns}.log`)
        const children = [0, 1, 2].map((i) =>
          spawn(process.execPath, ['--conditions=@beaver-kit/source', worker], {
            env: {
              ...process.env,
              FLEET_STORE: store,
              FLEET_URL: url,
              FLEET_NS: ns,
              FLEET_LOG: log,
              FLEET_INSTANCE: `p${i}`,
              // Only p0 has the hanging job, so the process to kill is known.
              ...(i === 0 ? { FLEET_HANG: '1' } : {}),
            },
            stdio: ['ignore', 'ignore', 'inherit'],
          }),
        )
        const control = createScheduler({
          store,
          envPrefix: false,
          namespace: ns,
          instance: 'control',
          ...(store === 'redis' ? { redis: { url: url as string } } : { db: { url: url as string } }),
        })
        try {
          const ticks = () => lines(log).filter((l) => !l.startsWith('hang'))
          await eventually(() => new Set(ticks().map((l) => l.split(' ')[0])).size >= SECONDS, { timeoutMs: 150_000 })
          await eventually(() => lines(log).some((l) => l === 'hang p0'), { timeoutMs: 20_000 }).catch(
            (error: unknown) => {
              throw new Error(`p0 never started its hanging run; log:\n${lines(log).slice(-20).join('\n')}`, {
                cause: error,
              })
            },
          )
          await stop(children[0] as ChildProcess, 'SIGKILL')

          // Control from a fourth process: pause, then a manual trigger still runs once.
          await control.pause('tick')
          const pausedAt = Date.now()
          await control.trigger('tick')
          await eventually(() => ticks().some((l) => l.endsWith(' manual')), { timeoutMs: 20_000 })
          await control.resume('tick')
          const resumedAt = Date.now()
          await eventually(() => ticks().some((l) => Number(l.split(' ')[0]) > resumedAt + 1000), { timeoutMs: 20_000 })

          await eventually(async () => (await control.history('hang', { limit: 5 }))[0]?.outcome === 'abandoned', {
            timeoutMs: 30_000,
          })
          // The fleet stops (close() waits for running handlers), so every run has its outcome.
          await Promise.all(children.map((c) => stop(c, 'SIGTERM')))
          const [hang] = await control.history('hang', { limit: 5 })
          expect(hang).toMatchObject({ instance: 'p0', outcome: 'abandoned', trigger: 'scheduled' })

          const scheduled = ticks().filter((l) => l.endsWith(' scheduled'))
          const dues = scheduled.map((l) => Number(l.split(' ')[0]))
          expect(new Set(dues).size).toBe(dues.length)
          const tokens = ticks().map((l) => Number(l.split(' ')[1]))
          expect(new Set(tokens).size).toBe(tokens.length)
          // The processes shared the work (it is not one leader doing everything).
          expect(new Set(scheduled.map((l) => l.split(' ')[2])).size).toBeGreaterThan(1)
          // Nothing ran while paused (a poll interval of slack on each side).
          expect(dues.filter((d) => d > pausedAt + 1500 && d < resumedAt - 1500)).toEqual([])
          // Every occurrence in history ran exactly once: one row per slot, all succeeded or missed.
          const history = await control.history('tick', { limit: 1000 })
          const slots = history.map((r) => r.slot)
          expect(new Set(slots).size).toBe(slots.length)
          expect(history.filter((r) => r.trigger === 'manual')).toHaveLength(1)
          // None lost: every second from the first scheduled run to the last has its one row
          // (succeeded, or abandoned for the run of a killed process; never missed), except
          // while paused.
          const due = new Set(
            history.filter((r) => r.trigger !== 'manual' && r.outcome !== 'missed').map((r) => r.dueAt),
          )
          const first = Math.min(...dues)
          const last = Math.max(...dues)
          expect(last - first).toBeGreaterThanOrEqual((SECONDS - 1) * 1000)
          const lost: number[] = []
          for (let t = first; t <= last; t += 1000) {
            const paused = t > pausedAt - 1500 && t < resumedAt + 1500
            if (!paused && !due.has(t)) lost.push(t)
          }
          expect(lost).toEqual([])
          expect(
            history
              .filter((r) => !['succeeded', 'abandoned'].includes(r.outcome))
              .map((r) => `${r.outcome} ${r.trigger} ${r.instance} at +${r.dueAt - first} ms`),
          ).toEqual([])
          console.log(
            `fleet on ${store}: ${scheduled.length} scheduled runs, ${new Set(scheduled.map((l) => l.split(' ')[2])).size} instances, no duplicate; killed run ${hang?.outcome}`,
          )
        } finally {
          await control.close()
          await Promise.all(children.map((c) => stop(c, 'SIGTERM')))
        }
      },
    )
  }
})
