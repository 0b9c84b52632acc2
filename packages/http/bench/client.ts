// One contender in a fresh process: runs every case at fixed concurrency and prints one JSON
// line per case { case, contender, opsPerSec, p99Ms }.
import http from 'node:http'
import { createHistogram } from 'node:perf_hooks'
import { Agent, fetch as undiciFetch, request } from 'undici'
import got from 'got'
import axios from 'axios'
import { createHttpClient } from '../src/index.ts'

interface Case {
  name: string
  url: string
  concurrency: number
}

const [contender, casesJson, warmMs, measureMs] = process.argv.slice(2) as [string, string, string, string]
const cases = JSON.parse(casesJson) as Case[]

function makeCall(): (url: string) => Promise<unknown> {
  switch (contender) {
    case 'beaver-kit': {
      // Retry and breaker on (the defaults), never tripping: what users run in production.
      const client = createHttpClient({ envPrefix: false })
      return (url) => client.get(url).bytes()
    }
    case 'undici.request': {
      const dispatcher = new Agent()
      return async (url) => {
        const { body } = await request(url, { dispatcher })
        return body.bytes()
      }
    }
    case 'undici.fetch': {
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
  c: Case,
  ms: number,
  record: boolean,
): Promise<{ ops: number; p99Ms: number }> {
  const histogram = createHistogram()
  const end = performance.now() + ms
  let done = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = process.hrtime.bigint()
      await call(c.url)
      if (record) histogram.record(Math.max(1, Number(process.hrtime.bigint() - started)))
      done++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: c.concurrency }, worker))
  const elapsed = performance.now() - t0
  return { ops: (done / elapsed) * 1000, p99Ms: histogram.percentile(99) / 1e6 }
}

const call = makeCall()
for (const c of cases) {
  await drive(call, c, Number(warmMs), false)
  const { ops, p99Ms } = await drive(call, c, Number(measureMs), true)
  console.log(
    JSON.stringify({ case: c.name, contender, opsPerSec: Math.round(ops), p99Ms: Math.round(p99Ms * 1000) / 1000 }),
  )
}
process.exit(0)
