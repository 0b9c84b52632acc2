// The whole conformance suite against the local nats-server with JetStream. Streams get a
// prefix of their own per run and are deleted afterwards: the server is shared.
import { readFile } from 'node:fs/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'
import { queueNames, queueOfStream } from '../../src/drivers/nats-names.ts'
import { deleteNatsStreams, natsTestPrefix } from '../support/nats-streams.ts'

const url = await requireService('nats')
const prefix = natsTestPrefix()

afterAll(async () => {
  if (url) await deleteNatsStreams(url, prefix)
})

describe.runIf(url)('nats (JetStream)', () => {
  describeQueueDriver(
    'nats',
    (namespace) =>
      createQueue({
        driver: 'nats',
        nats: { servers: [url as string], prefix },
        namespace,
        envPrefix: false,
      }),
    {
      rejectingJob: (queue) =>
        defineJob<never>(queue, {
          parse: () => {
            throw new Error('schema rejects it')
          },
        }),
    },
  )
})

describe('nats driver definition', () => {
  it('names the peers package.json declares as optional', async () => {
    const { natsDriver } = await import('@beaver-kit/queue/nats')
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    for (const peer of natsDriver.peers ?? []) {
      expect(manifest.peerDependencies[peer]).toBeDefined()
      expect(manifest.peerDependenciesMeta[peer]?.optional).toBe(true)
    }
    expect(natsDriver.peers).toEqual(['@nats-io/transport-node', '@nats-io/jetstream'])
  })

  it('maps every queue name to its own stream and back', () => {
    const names = ['ns/emails', 'ns/emails.welcome', 'ns_x/a', 'ns/x_2Fa', 'ü/é', 'a-b/c-d']
    const streams = names.map((n) => queueNames('bq', n).stream)
    expect(new Set(streams).size).toBe(names.length)
    for (const [i, n] of names.entries()) {
      expect(streams[i]).toMatch(/^[A-Za-z0-9_-]+$/)
      expect(queueOfStream('bq', streams[i] as string)).toBe(n)
    }
    expect(queueNames('bq', 'ns/emails.welcome').jobs).toBe('bq.ns_2Femails_2Ewelcome.jobs')
    expect(queueOfStream('bq', queueNames('bq', 'ns/a').deadStream)).toBeUndefined()
    expect(queueOfStream('bq', 'other_stream')).toBeUndefined()
  })
})
