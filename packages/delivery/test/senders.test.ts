import { describe, expect, it } from 'vitest'
import { awsClientConfig, classifyAwsFailure, countOutcomes, sendEach, withSendRetries } from '@beaver-kit/delivery'

class Temporary extends Error {
  code = 'TEMPORARY'
}

function sender(failures: number, retries = false) {
  let calls = 0
  return {
    name: 'flaky',
    capabilities: Object.freeze({ retries, idempotencyKeys: false }),
    calls: () => calls,
    async send(message: string, _options: { signal?: AbortSignal | undefined }) {
      calls++
      if (calls <= failures) throw new Temporary(`try again (${calls})`)
      return { id: `${message}-${calls}` }
    },
    async close() {},
  }
}

const policy = {
  attempts: 3,
  baseMs: 1,
  maxMs: 2,
  isTransient: (e: unknown) => e instanceof Temporary,
  retryAfter: () => undefined,
}

describe('withSendRetries', () => {
  it('sends again after temporary failures, reporting each retry, and keeps the sender reachable', async () => {
    const s = sender(2)
    const retried: string[] = []
    const wrapped = withSendRetries(s, {
      ...policy,
      onRetry: ({ sender: name, attempt, code }) => retried.push(`${name} ${attempt} ${code}`),
    })
    expect(await wrapped.send('m', {})).toEqual({ id: 'm-3' })
    expect(retried).toEqual(['flaky 1 TEMPORARY', 'flaky 2 TEMPORARY'])
    expect(wrapped.capabilities.retries).toBe(true)
    expect(wrapped.calls()).toBe(3)
    await wrapped.close()
  })

  it('gives up after the attempts, and never retries a permanent failure', async () => {
    const wrapped = withSendRetries(sender(5), policy)
    await expect(wrapped.send('m', {})).rejects.toThrow('try again (3)')
    const permanent = withSendRetries(sender(5), { ...policy, isTransient: () => false })
    await expect(permanent.send('m', {})).rejects.toThrow('try again (1)')
    expect(permanent.calls()).toBe(1)
  })

  it('leaves a sender that retries by itself, or a policy of one attempt, as it is', () => {
    const native = sender(0, true)
    expect(withSendRetries(native, policy)).toBe(native)
    const plain = sender(0)
    expect(withSendRetries(plain, { ...policy, attempts: 1 })).toBe(plain)
  })

  it('keeps verify bound to the sender', async () => {
    const checked: unknown[] = []
    const s = {
      ...sender(0),
      marker: 'me',
      async verify(this: { marker: string }, _options: unknown) {
        checked.push(this.marker)
      },
    }
    await withSendRetries(s, policy).verify?.({})
    expect(checked).toEqual(['me'])
  })
})

describe('sendEach', () => {
  it('reports each item in order, never rejecting, with at most `concurrency` in flight', async () => {
    let inFlight = 0
    let most = 0
    const outcomes = await sendEach([1, 2, 3, 4, 5], { concurrency: 2 }, async (n) => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      if (n === 3) throw new Error('three')
      return n * 10
    })
    expect(most).toBe(2)
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'sent', 'failed', 'sent', 'sent'])
    expect(outcomes[1]).toEqual({ index: 1, status: 'sent', result: 20 })
    expect(countOutcomes(outcomes)).toEqual({ sent: 4, failed: 1, skipped: 0 })
  })

  it('stops starting items after an abort and reports them skipped', async () => {
    const controller = new AbortController()
    const outcomes = await sendEach(['a', 'b', 'c'], { concurrency: 1, signal: controller.signal }, async (x) => {
      controller.abort()
      return x
    })
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'skipped', 'skipped'])
    expect(await sendEach([], { concurrency: 4 }, async () => 1)).toEqual([])
  })
})

describe('AWS SDK failures and client settings', () => {
  const aws = (name: string, status?: number, code?: string) =>
    Object.assign(new Error(`${name} happened`), {
      name,
      ...(code ? { code } : {}),
      ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
    })

  it('classifies credentials, throttling, 5xx, network and request failures', () => {
    expect(classifyAwsFailure(aws('UnrecognizedClientException', 400))).toMatchObject({ kind: 'auth', status: 400 })
    expect(classifyAwsFailure(aws('Whatever', 403)).kind).toBe('auth')
    expect(classifyAwsFailure(aws('TooManyRequestsException', 400)).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('Throttling', 400)).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('InternalFailure', 500)).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('SomethingElse', 429)).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('TimeoutError')).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('Error', 400, 'ECONNRESET')).kind).toBe('temporary')
    expect(classifyAwsFailure(aws('MessageRejected', 400))).toEqual({
      kind: 'rejected',
      name: 'MessageRejected',
      status: 400,
      message: 'MessageRejected: MessageRejected happened',
    })
    expect(classifyAwsFailure(null)).toMatchObject({ kind: 'temporary', name: 'Error', message: 'Error: null' })
  })

  it('gives static credentials only when both halves are set', () => {
    expect(awsClientConfig({}, 3)).toEqual({ maxAttempts: 3 })
    expect(
      awsClientConfig(
        { region: 'eu-west-1', endpoint: 'http://127.0.0.1:1', accessKeyId: 'AKIA', secretAccessKey: 's' },
        2,
      ),
    ).toEqual({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'AKIA', secretAccessKey: 's' },
      maxAttempts: 2,
    })
    expect(awsClientConfig({ accessKeyId: 'AKIA' }, 1)).toEqual({ maxAttempts: 1 })
  })
})
