import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import dc from 'node:diagnostics_channel'
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '@beaver-kit/testkit'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger, isLoggerError } from '../src/index.ts'
import { listRotated, rotatedName } from '../src/outputs/stream.ts'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-log-file-'))
})
afterEach(async () => {
  vi.useRealTimers()
  await rm(dir, { recursive: true, force: true })
})

async function linesIn(files: string[]): Promise<string[]> {
  const all: string[] = []
  for (const f of files) all.push(...(await readFile(f, 'utf8')).split('\n').filter(Boolean))
  return all
}
async function allLogFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).map((f) => join(dir, f))
}

describe('file output', () => {
  for (const mode of ['buffered', 'sync', 'async'] as const) {
    it(`loses none of a burst of 100,000 lines once close() resolves (${mode} mode)`, async () => {
      const file = join(dir, 'app.log')
      const log = createLogger({ envPrefix: false, outputs: [`file:${file}?mode=${mode}`] })
      for (let i = 0; i < 100_000; i++) log.info({ i }, 'burst')
      await log.close()
      const lines = await linesIn([file])
      expect(lines).toHaveLength(100_000)
      expect((JSON.parse(lines[99_999] as string) as { i: number }).i).toBe(99_999)
      expect(log.stats().dropped).toBe(0)
    })
  }

  it('writes a lone line by the end of the event-loop turn in buffered mode', async () => {
    const file = join(dir, 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}`] })
    log.info('lonely')
    // Still in the batch: nothing written during this turn.
    expect(readFileSync(file, 'utf8')).toBe('')
    // The flush was scheduled for the end of this turn (setImmediate), before this one: once
    // this callback runs, the line must be in the file, with no waiting beyond that turn.
    await new Promise((resolve) => setImmediate(resolve))
    expect(readFileSync(file, 'utf8')).toContain('"msg":"lonely"')
    await log.close()
  })

  for (const mode of ['buffered', 'async'] as const) {
    it(`has a partial batch in the file once flush() resolves, within the turn that logged it (${mode} mode)`, async () => {
      const file = join(dir, 'app.log')
      const log = createLogger({ envPrefix: false, outputs: [`file:${file}?mode=${mode}`] })
      // Two full 4 KiB batches and a partial one; no event-loop turn passes before flush().
      for (let i = 0; i < 120; i++) log.info({ i }, 'x'.repeat(40))
      expect(readFileSync(file, 'utf8').split('\n').filter(Boolean).length).toBeLessThan(120)
      await log.flush()
      expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(120)
      await log.close()
    })
  }

  it('creates missing directories and fails at creation when the path cannot be opened', async () => {
    const nested = join(dir, 'a', 'b', 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${nested}`] })
    log.info('deep')
    await log.close()
    expect(await readFile(nested, 'utf8')).toContain('deep')
    await writeFile(join(dir, 'plain'), 'x')
    let error: unknown
    try {
      createLogger({ envPrefix: false, outputs: [`file:${join(dir, 'plain', 'app.log')}`] })
    } catch (err) {
      error = err
    }
    expect(isLoggerError(error, 'LOG_OUTPUT_OPEN_FAILED')).toBe(true)
  })

  it('rotates by size, keeps maxFiles, and loses no line across rotations', async () => {
    const file = join(dir, 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}?maxSize=20kb&maxFiles=3`] })
    const total = 3_000
    for (let i = 0; i < total; i++) log.info({ i }, 'rotating')
    await log.close()
    const rotated = listRotated(file)
    expect(rotated).toHaveLength(3)
    // Every line still present is whole, and the newest ones are all there, in order.
    const lines = await linesIn([...rotated, file])
    const ids = lines.map((l) => (JSON.parse(l) as { i: number }).i)
    expect(ids).toEqual([...Array(ids.length).keys()].map((k) => total - ids.length + k))
    for (const f of rotated) expect((await readFile(f)).length).toBeGreaterThanOrEqual(20 * 1024)
  })

  it('keeps every line when nothing is pruned', async () => {
    const file = join(dir, 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}?maxSize=8kb&maxFiles=1000`] })
    for (let i = 0; i < 5_000; i++) log.info({ i }, 'x')
    await log.close()
    const files = await allLogFiles()
    expect(files.length).toBeGreaterThan(10)
    expect(await linesIn(files)).toHaveLength(5_000)
  })

  it('closes every rotated file: no descriptor points at a rotated or deleted file', async () => {
    const file = join(dir, 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}?maxSize=4kb&maxFiles=2`] })
    for (let i = 0; i < 2_000; i++) log.info({ i }, 'leak check')
    await log.flush()
    await eventually(async () => {
      const targets = await Promise.all(
        (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
      )
      const ours = targets.filter((t) => t.startsWith(dir))
      expect(ours).toEqual([file])
    })
    await log.close()
  })

  it('rotates on a UTC-aligned period with fake time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: new Date('2026-01-01T10:59:00.000Z') })
    const file = join(dir, 'app.log')
    const log = createLogger({ envPrefix: false, outputs: [`file:${file}?interval=1h&mode=sync`] })
    log.info('hour 10')
    vi.advanceTimersByTime(60_000) // 11:00 boundary
    log.info('hour 11')
    vi.advanceTimersByTime(30 * 60_000) // 11:30: no boundary
    log.info('still hour 11')
    vi.advanceTimersByTime(30 * 60_000) // 12:00 boundary
    log.info('hour 12')
    vi.advanceTimersByTime(3 * 3_600_000) // 13:00 rotates "hour 12"; 14:00 and 15:00 find nothing new
    await log.close()
    const rotated = listRotated(file)
    expect(rotated.map((f) => f.slice(dir.length + 1))).toEqual([
      'app.2026-01-01T11-00-00.000Z.log',
      'app.2026-01-01T12-00-00.000Z.log',
      'app.2026-01-01T13-00-00.000Z.log',
    ])
    expect(await linesIn([rotated[0] as string])).toHaveLength(1)
    expect(await linesIn([rotated[1] as string])).toHaveLength(2)
    expect(await linesIn([rotated[2] as string])).toEqual([expect.stringContaining('hour 12')])
    expect(await linesIn([file])).toEqual([])
  })

  it('names rotated files sortably and never overwrites one', async () => {
    const file = join(dir, 'app.log')
    const when = new Date('2026-03-04T05:06:07.089Z')
    const first = rotatedName(file, when)
    expect(first).toBe(join(dir, 'app.2026-03-04T05-06-07.089Z.log'))
    await writeFile(first, '')
    expect(rotatedName(file, when)).toBe(join(dir, 'app.2026-03-04T05-06-07.089Z.1.log'))
  })
  it('counts as dropped the lines gathered, and the batch being written, when the reader of a pipe goes away (EPIPE)', async () => {
    const fifo = join(dir, 'pipe.log')
    execFileSync('mkfifo', [fifo])
    // The reading end, opened first (non-blocking), so that the logger's open for writing succeeds.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const dropped: Array<{ count: number; reason: string }> = []
    const errors: unknown[] = []
    const onDropped = (m: unknown): void => void dropped.push(m as { count: number; reason: string })
    const onError = (m: unknown): void => void errors.push(m)
    dc.subscribe('beaver:logger:dropped', onDropped)
    dc.subscribe('beaver:logger:outputError', onError)
    try {
      const log = createLogger({ envPrefix: false, outputs: [`file:${fifo}?mode=buffered`] })
      log.info('first')
      await log.flush()
      const got = Buffer.alloc(4096)
      expect(JSON.parse(got.toString('utf8', 0, readSync(reader, got)).trim()).msg).toBe('first')
      closeSync(reader)
      for (let i = 0; i < 5; i++) log.info({ i }, 'gathered')
      // The batch goes to the pipe, which has no reader any more: all five are lost and counted.
      await log.flush()
      expect(errors).toHaveLength(1)
      expect((errors[0] as { error: NodeJS.ErrnoException }).error.code).toBe('EPIPE')
      expect(log.stats().dropped).toBe(5)
      log.info('after')
      expect(log.stats().dropped).toBe(6)
      expect(dropped).toEqual([
        { output: `file:${fifo}`, count: 5, reason: 'broken' },
        { output: `file:${fifo}`, count: 1, reason: 'broken' },
      ])
      await log.close()
    } finally {
      dc.unsubscribe('beaver:logger:dropped', onDropped)
      dc.unsubscribe('beaver:logger:outputError', onError)
    }
  })
})
