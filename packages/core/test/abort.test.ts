import { spawnSync } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { abortReason, isCoreError, raceAbort, retry, sleep, throwIfAborted } from '@beaver-kit/core'

// A script whose only pending work is an awaited wait must not exit before the wait ends.
function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `import { retry, sleep } from '@beaver-kit/core'\n${body}`
  const out = spawnSync(
    process.execPath,
    ['--conditions=@beaver-kit/source', '--input-type=module', '--eval', script],
    { encoding: 'utf8', cwd: import.meta.dirname, timeout: 20_000 },
  )
  return { status: out.status, stdout: out.stdout, stderr: out.stderr }
}

describe('an awaited wait holds the process', () => {
  it('sleep() keeps a standalone script alive until it resolves', () => {
    const run = runScript(`await sleep(150); console.log('after sleep')`)
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe('after sleep\n')
    expect(run.status).toBe(0)
  })

  it('retry() backoff keeps a standalone script alive through every attempt', () => {
    const run = runScript(
      `let n = 0
       const v = await retry(async () => { n++; if (n < 3) throw new Error('boom'); return n }, { maxAttempts: 3, baseMs: 60, jitter: 'none' })
       console.log('attempts', v)`,
    )
    expect(run.stdout).toBe('attempts 3\n')
    expect(run.status).toBe(0)
  })

  it('a retry that runs out rejects with the last error, not a silent exit 13', () => {
    const run = runScript(
      `try { await retry(async () => { throw new Error('still down') }, { maxAttempts: 2, baseMs: 50, jitter: 'none' }) }
       catch (e) { console.log('rejected:', e.message) }`,
    )
    expect(run.stdout).toBe('rejected: still down\n')
    expect(run.status).toBe(0)
  })
})

describe('raceAbort', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('settles with the promise when nothing interrupts it', async () => {
    await expect(raceAbort(Promise.resolve(7), { timeoutMs: 100 })).resolves.toBe(7)
    await expect(raceAbort(Promise.reject(new Error('own')), { timeoutMs: 100 })).rejects.toThrow('own')
  })

  it('rejects with CORE_TIMEOUT once the time limit passes, and clears its timer when it settles', async () => {
    const never = new Promise<number>(() => undefined)
    const p = raceAbort(never, { timeoutMs: 50 })
    const check = expect(p).rejects.toSatisfy((e) => isCoreError(e, 'CORE_TIMEOUT'))
    await vi.advanceTimersByTimeAsync(50)
    await check
    expect(vi.getTimerCount()).toBe(0)
    await raceAbort(Promise.resolve(1), { timeoutMs: 50 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('uses the caller-built timeout error', async () => {
    const p = raceAbort(new Promise(() => undefined), { timeoutMs: 10, onTimeout: () => new Error('loader timed out') })
    const check = expect(p).rejects.toThrow('loader timed out')
    await vi.advanceTimersByTimeAsync(10)
    await check
  })

  it('rejects with the abort reason, at once when already aborted', async () => {
    const reason = new Error('caller gave up')
    await expect(raceAbort(new Promise(() => undefined), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    const ac = new AbortController()
    const p = raceAbort(new Promise(() => undefined), { signal: ac.signal, timeoutMs: 1000 })
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an abort without a reason is a CORE_ABORTED error with the DOMException as cause, never a bare DOMException', async () => {
    const ac = new AbortController()
    const p = raceAbort(new Promise(() => undefined), { signal: ac.signal })
    // AbortController.abort() with no argument sets an AbortError DOMException as the reason.
    ac.abort()
    const err = await p.catch((e: unknown) => e)
    expect(isCoreError(err, 'CORE_ABORTED')).toBe(true)
    expect((err as Error).cause).toBe(ac.signal.reason)
    expect(err).not.toBeInstanceOf(DOMException)
    await expect(raceAbort(new Promise(() => undefined), { signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE_ABORTED'),
    )
    const bare = { aborted: true, reason: undefined } as unknown as AbortSignal
    await expect(raceAbort(new Promise(() => undefined), { signal: bare })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE_ABORTED'),
    )
    await expect(sleep(10, AbortSignal.abort())).rejects.toSatisfy((e) => isCoreError(e, 'CORE_ABORTED'))
    expect(() => throwIfAborted(AbortSignal.abort())).toThrow(expect.objectContaining({ code: 'CORE_ABORTED' }))
  })

  it("a signal's own time limit (AbortSignal.timeout) keeps its TimeoutError: it says what happened", async () => {
    const signal = AbortSignal.timeout(1)
    await vi.advanceTimersByTimeAsync(5)
    await vi.waitFor(() => expect(signal.aborted).toBe(true))
    expect(abortReason(signal)).toBe(signal.reason)
    expect((abortReason(signal) as Error).name).toBe('TimeoutError')
  })

  it('with neither signal nor limit it is the promise itself', async () => {
    await expect(raceAbort(Promise.resolve('x'))).resolves.toBe('x')
  })

  it('sleep rejects with the abort reason and leaves no timer', async () => {
    const ac = new AbortController()
    const p = sleep(1000, ac.signal)
    ac.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
    expect(vi.getTimerCount()).toBe(0)
    await expect(retry(() => Promise.resolve(1))).resolves.toBe(1)
  })
})
