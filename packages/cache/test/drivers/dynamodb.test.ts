import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { startDynalite, type LocalCloudServer } from '@beaver-kit/testkit/cache-servers'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { createDynamoDbCacheTable, type DynamoDbStore, dynamoDbDriver } from '@beaver-kit/cache/dynamodb'

// dynalite implements the DynamoDB API in memory; started here on a free port, stopped after.
let server: LocalCloudServer
let client: DynamoDBClient
const table = 'beaver_cache_test'
beforeAll(async () => {
  server = await startDynalite()
  client = new DynamoDBClient({ endpoint: server.endpoint, region: server.region, credentials: server.credentials })
  await createDynamoDbCacheTable(client, table)
  // Idempotent: a second call finds the table.
  await createDynamoDbCacheTable(client, table)
})
afterAll(async () => {
  client?.destroy()
  await server?.stop()
})

describeCacheDriver(
  'dynamodb (dynalite)',
  (ns) =>
    createCache({
      envPrefix: false,
      namespace: ns,
      driver: 'dynamodb',
      dynamodb: { table, client },
    }),
  { shared: true, increment: false, query: false },
)

describe('dynamodb specifics', () => {
  it('retries unprocessed keys and items of batch calls until every one is done', async () => {
    const ns = uniqueNamespace('ddb')
    let sabotaged = 0
    // A client that, like a throttled table, leaves half of each first batch unprocessed.
    const flaky = {
      send: async (command: unknown): Promise<unknown> => {
        const out = (await client.send(command as GetItemCommand)) as unknown as Record<string, unknown>
        if (command instanceof BatchWriteItemCommand && sabotaged < 2) {
          sabotaged++
          const items = command.input.RequestItems?.[table] ?? []
          const keep = items.slice(0, Math.ceil(items.length / 2))
          // Undo the "unprocessed" half so a retry is really needed.
          await client.send(
            new BatchWriteItemCommand({
              RequestItems: {
                [table]: items.slice(keep.length).map((w) => ({
                  DeleteRequest: {
                    Key: { p: w.PutRequest?.Item?.p ?? { S: '' }, s: w.PutRequest?.Item?.s ?? { S: '' } },
                  },
                })),
              },
            }),
          )
          return { ...out, UnprocessedItems: { [table]: items.slice(keep.length) } }
        }
        if (command instanceof BatchGetItemCommand && sabotaged < 4) {
          sabotaged++
          const keys = command.input.RequestItems?.[table]?.Keys ?? []
          const responses = (
            (out.Responses as Record<string, Array<Record<string, { S?: string }>>>)[table] ?? []
          ).slice(0, 5)
          const returned = new Set(responses.map((r) => r.s?.S))
          return {
            ...out,
            Responses: { [table]: responses },
            UnprocessedKeys: { [table]: { Keys: keys.filter((k) => !returned.has(k.s?.S)) } },
          }
        }
        return out
      },
      destroy: () => undefined,
    } as unknown as DynamoDBClient
    const store = (await dynamoDbDriver.create({ table, client: flaky }, undefined as never)) as DynamoDbStore
    const entries = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array([i]), ttlMs: 60_000 }))
    await store.setMany(ns, entries)
    const values = (await store.getMany(
      ns,
      entries.map((e) => e.key),
    )) as Array<Uint8Array | undefined>
    expect(values.map((v) => v?.[0])).toEqual(entries.map((_, i) => i))
    expect(store.unprocessedRetries).toBeGreaterThanOrEqual(3)
    await store.clear(ns)
  })

  it('checks expiry on read and writes the TTL attribute in epoch seconds', async () => {
    const ns = uniqueNamespace('ddb')
    const store = (await dynamoDbDriver.create({ table, client }, undefined as never)) as DynamoDbStore
    await store.set(ns, 'k', new Uint8Array([1]), 3_600_000)
    const raw = await client.send(
      new GetItemCommand({ TableName: table, Key: { p: { S: ns }, s: { S: `${ns}\u0000k` } } }),
    )
    const e = Number(raw.Item?.e?.N)
    expect(e).toBeGreaterThan(Date.now() / 1000 + 3500)
    expect(e).toBeLessThan(Date.now() / 1000 + 3700)
    // An item whose expiry passed (DynamoDB's own TTL deletion lags) is a miss at once.
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: [
            {
              PutRequest: {
                Item: {
                  p: { S: ns },
                  s: { S: `${ns}\u0000old` },
                  v: { B: new Uint8Array([9]) },
                  m: { N: String(Date.now() - 1) },
                },
              },
            },
          ],
        },
      }),
    )
    expect(await store.get(ns, 'old')).toBeUndefined()
    expect(await store.delete(ns, 'old')).toBe(false)
    await store.clear(ns)
  })
})
