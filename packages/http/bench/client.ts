// One contender in its own process, driven by bench/run.ts over IPC: for each request
// { id, url, concurrency, warmMs, measureMs } it warms up, then runs a fixed-concurrency loop
// and answers { id, opsPerSec, p99Ms }. The process stays up across rounds, so every contender
// is measured warm and no contender's work shares a process with another's.
import http from 'node:http'
import { createHistogram } from 'node:perf_hooks'
import axios from 'axios'
import got from 'got'
import { Agent, fetch as undiciFetch, request } from 'undici'
import { createHttpClient } from '../src/index.ts'

export interface CaseRequest {
  id: number
  url: string
  concurrency: number
  warmMs: number
  measureMs: number
}

const contender = process.argv[2]

function makeCall(): (url: string) => Promise<unknown> {
  switch (contender) {
    case 'beaver-kit': {
      // Retry, breaker and deadline on (the defaults), never tripping: what users run in production.
      const client = createHttpClient({ envPrefix: false })
      return (url) => client.get(url).bytes()
    }
    case 'floor': {
      // Raw undici.request on a shared Agent: what the kit itself sends through.
      const dispatcher = new Agent()
      return async (url) => {
        const { body } = await request(url, { dispatcher })
        return body.bytes()
      }
    }
    case 'undici-fetch': {
      const dispatcher = new Agent()
      return async (url) => (await undiciFetch(url, { dispatcher })).arrayBuffer()
    }
    case 'got': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
      const client = got.extend({ agent: { http: agent } })
      return (url) => client(url).buffer()
    }
    case 'axios': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
      const client = axios.create({ httpAgent: agent, responseType: 'arraybuffer' })
      return (url) => client.get(url)
    }
    default:
      throw new Error(`unknown contender ${contender}`)
  }
}

async function drive(
  call: (url: string) => Promise<unknown>,
  url: string,
  concurrency: number,
  ms: number,
  record: boolean,
): Promise<{ opsPerSec: number; p99Ms: number }> {
  const histogram = createHistogram()
  const end = performance.now() + ms
  let done = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = process.hrtime.bigint()
      await call(url)
      if (record) histogram.record(Math.max(1, Number(process.hrtime.bigint() - started)))
      done++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = performance.now() - t0
  return { opsPerSec: (done / elapsed) * 1000, p99Ms: histogram.percentile(99) / 1e6 }
}

const call = makeCall()
process.on('message', (message) => {
  const r = message as CaseRequest
  void (async () => {
    await drive(call, r.url, r.concurrency, r.warmMs, false)
    const m = await drive(call, r.url, r.concurrency, r.measureMs, true)
    process.send?.({ id: r.id, opsPerSec: m.opsPerSec, p99Ms: Math.round(m.p99Ms * 1000) / 1000 })
  })()
})
process.on('disconnect', () => process.exit(0))
process.send?.('ready')
