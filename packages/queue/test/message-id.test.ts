import { describe, expect, it } from 'vitest'
import { createQueue } from '@beaver-kit/queue'
import { messageIdTime, newMessageId } from '../src/message-id.ts'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('message ids', () => {
  it('are UUIDv7s that sort by the time they were made', () => {
    const early = Array.from({ length: 300 }, () => newMessageId(1_800_000_000_000))
    const late = Array.from({ length: 300 }, () => newMessageId(1_800_000_000_001))
    for (const id of [...early, ...late]) expect(id).toMatch(UUID_V7)
    expect(new Set([...early, ...late]).size).toBe(600)
    expect(early.every((a) => late.every((b) => a < b))).toBe(true)
    expect(newMessageId(1_800_000_000_000).slice(0, 13)).toBe('01a3185c-5000')
  })

  it('are what publish gives a message without an id, dated by the queue clock', async () => {
    const q = createQueue({ driver: 'memory', envPrefix: false, now: () => 1_800_000_000_000 })
    const id = await q.publish('jobs', 1)
    expect(id).toMatch(UUID_V7)
    expect(id.slice(0, 13)).toBe('01a3185c-5000')
    await q.close()
  })

  it('show the time they were made, which other ids do not', () => {
    expect(messageIdTime(newMessageId(1_800_000_000_123))).toBe(1_800_000_000_123)
    expect(messageIdTime(newMessageId(0))).toBe(0)
    for (const id of ['job-42', '', crypto.randomUUID(), newMessageId(1).toUpperCase(), `${newMessageId(1)}x`]) {
      expect(messageIdTime(id)).toBeUndefined()
    }
  })
})
