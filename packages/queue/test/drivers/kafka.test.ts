// The whole conformance suite on the kafka driver (kafkajs) against the testkit's Kafka-protocol
// broker, started here on a free port; against a real cluster too when BEAVER_TEST_KAFKA_URL
// (host:port[,host:port]) is set. What the testkit broker implements: testkit README, "Kafka broker".
import { readFile } from 'node:fs/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { startKafkaBroker } from '@beaver-kit/testkit/kafka'
import { createQueue, defineJob } from '@beaver-kit/queue'

const broker = await startKafkaBroker()
afterAll(async () => {
  await broker.close()
})

const rejectingJob = (queue: string) =>
  defineJob<never>(queue, {
    parse: () => {
      throw new Error('schema rejects it')
    },
  })

const suite = (name: string, brokers: string[]) =>
  describe(name, () => {
    describeQueueDriver(
      'kafka',
      (namespace) => createQueue({ driver: 'kafka', kafka: { brokers, partitions: 2 }, namespace, envPrefix: false }),
      { rejectingJob },
    )
  })

suite('kafka (testkit broker)', [broker.address])
const real = process.env.BEAVER_TEST_KAFKA_URL
if (real) suite('kafka (BEAVER_TEST_KAFKA_URL)', real.split(','))

describe('kafka driver definition', () => {
  it('names the peer package.json declares as optional', async () => {
    const { kafkaDriver } = await import('@beaver-kit/queue/kafka')
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    expect(kafkaDriver.peers).toEqual(['kafkajs'])
    expect(manifest.peerDependencies.kafkajs).toBeDefined()
    expect(manifest.peerDependenciesMeta.kafkajs?.optional).toBe(true)
  })
})
