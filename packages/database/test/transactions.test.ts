import { describe, expect, it } from 'vitest'
import { createDatabase, isDatabaseError } from '../src/index.ts'
import { fakeDefinition } from './helpers.ts'

describe('transaction retries are an explicit choice', () => {
  it('runs the callback once by default: a serialization failure is the caller’s to retry', async () => {
    const calls: string[] = []
    const db = createDatabase({ env: {}, driver: fakeDefinition('fake', calls, 1) })
    let runs = 0
    const err = await db
      .transaction(async (tx) => {
        runs++
        await tx.query('update t set v = v + 1')
      })
      .catch((e: unknown) => e)
    expect(runs).toBe(1)
    expect(isDatabaseError(err, 'DB_SERIALIZATION')).toBe(true)
    expect((err as { retryable: boolean }).retryable).toBe(true)
    expect((err as Error).message).toContain('{ retries: 3 }')
    expect(calls).toEqual(['BEGIN', 'update t set v = v + 1', 'COMMIT'])
    await db.close()
  })

  it('runs it again from the start with { retries }, reporting each retry', async () => {
    const calls: string[] = []
    const db = createDatabase({ env: {}, driver: fakeDefinition('fake', calls, 2) })
    const retried: Array<{ attempt: number; code: unknown }> = []
    let runs = 0
    const result = await db.transaction(
      async (tx) => {
        runs++
        await tx.query('update t set v = v + 1')
        return 'done'
      },
      {
        retries: 2,
        backoff: { baseMs: 1, maxMs: 1 },
        onRetry: ({ attempt, error }) => void retried.push({ attempt, code: (error as { code?: unknown }).code }),
      },
    )
    expect(result).toBe('done')
    expect(runs).toBe(3)
    expect(retried).toEqual([
      { attempt: 1, code: 'DB_SERIALIZATION' },
      { attempt: 2, code: 'DB_SERIALIZATION' },
    ])
    expect(calls.filter((c) => c === 'COMMIT')).toHaveLength(3)
    await db.close()
  })
})
