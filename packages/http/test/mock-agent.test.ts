import { afterEach, describe, expect, it } from 'vitest'
import { MockAgent } from 'undici'
import { http, initHttp, resetHttp, type HttpError } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { client } = useHarness()

afterEach(async () => {
  await resetHttp()
})

describe('testing with undici MockAgent (the documented recipe)', () => {
  it('intercepts calls of a client given the agent as its dispatcher; no network', async () => {
    const agent = new MockAgent()
    agent.disableNetConnect()
    const api = agent.get('https://api.example.com')
    api
      .intercept({ path: '/users/1', method: 'GET' })
      .reply(200, { id: 1, name: 'Ada' }, { headers: { 'content-type': 'application/json' } })
    api.intercept({ path: '/users/2', method: 'GET' }).reply(503, 'down').times(3)
    const c = client({ dispatcher: agent, baseUrl: 'https://api.example.com', retry: { baseDelay: 1 } })
    expect(await c.get('/users/:id', { params: { id: 1 } }).json()).toEqual({ id: 1, name: 'Ada' })
    expect(((await rejection(c.get('/users/2'))) as HttpError).status).toBe(503)
    agent.assertNoPendingInterceptors()
    await agent.close()
  })

  it('wires into the default instance with initHttp() in a test setup', async () => {
    const agent = new MockAgent()
    agent.disableNetConnect()
    agent.get('https://example.com').intercept({ path: '/', method: 'GET' }).reply(200, '<title>Hi</title>')
    initHttp({ envPrefix: false, dispatcher: agent })
    expect(await http().get('https://example.com/').text()).toBe('<title>Hi</title>')
    await resetHttp()
    // The client never closes a dispatcher it was given: the agent still answers.
    agent.get('https://example.com').intercept({ path: '/again', method: 'GET' }).reply(200, 'still open')
    expect(await client({ dispatcher: agent }).get('https://example.com/again').text()).toBe('still open')
    await agent.close()
  })
})
