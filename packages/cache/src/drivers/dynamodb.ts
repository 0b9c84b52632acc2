import { backoffDelay, importPeer, sleep } from '@beaver-kit/core'
import type {
  AttributeValue,
  DynamoDBClient,
  DynamoDBClientConfig,
  KeysAndAttributes,
  WriteRequest,
} from '@aws-sdk/client-dynamodb'
import type * as ddbsdk from '@aws-sdk/client-dynamodb'
import {
  defineCacheDriver,
  type CacheDriver,
  storeCapabilities,
  type DriverEntry,
  type StoredValue,
} from '../driver.ts'
import { CacheError } from '../errors.ts'
import { expiresAt, isLive, remaining, systemClock, type Clock } from '../expiry.ts'
import { awsClientSettings, type AwsSettings } from './aws-settings.ts'

/** Options of the DynamoDB driver: the `BEAVER_CACHE_DYNAMODB_*` settings and a client or client options. */
export interface DynamoDbCacheOptions extends AwsSettings {
  /** The table (create it with {@link createDynamoDbCacheTable}); default `beaver_cache`. */
  table?: string | undefined
  /** A client you own (kept open on close); the region, endpoint and credential settings are then not used. */
  client?: DynamoDBClient | undefined
  /** Used to build a client when none is given (over `BEAVER_CACHE_DYNAMODB_REGION`, `_ENDPOINT`, `_ACCESS_KEY_ID`...). */
  clientConfig?: DynamoDBClientConfig | undefined
  /** Attempts for unprocessed batch items before failing; default 8. */
  maxBatchAttempts?: number | undefined
  /** The clock expiries are written and checked with; default the wall clock. */
  now?: Clock | undefined
}

type Sdk = typeof ddbsdk
type Item = Record<string, AttributeValue>

/**
 * Key layout: partition key `p` = the root namespace (the part before the first `:`), sort
 * key `s` = `<namespace>\u0000<key>`, so `clear(ns)` is a Query on one partition (a root
 * namespace is one partition: spread hot data over several root namespaces). Value `v`
 * (binary), expiry `e` (epoch seconds, the table's TTL attribute, so DynamoDB deletes expired
 * items within a day or two) and `m` (epoch ms, checked on every read, so expiry is exact).
 */
function keyOf(ns: string, key: string): Item {
  const i = ns.indexOf(':')
  return { p: { S: i < 0 ? ns || '_' : ns.slice(0, i) }, s: { S: `${ns}\u0000${key}` } }
}

function expiryOf(item: Item): number | undefined {
  const m = item.m?.N
  return m === undefined ? undefined : Number(m)
}

function valueOf(item: Item): Uint8Array {
  return item.v?.B ?? new Uint8Array(0)
}

function expiry(at: number | undefined): Item {
  if (at === undefined) return {}
  return { m: { N: String(at) }, e: { N: String(Math.ceil(at / 1000)) } }
}

/**
 * DynamoDB through the AWS SDK v3: GetItem/PutItem with strongly consistent reads, expiry
 * checked on read plus the TTL attribute, BatchGetItem (100 keys) and BatchWriteItem (25
 * items) with retries of unprocessed keys (backoff with jitter), `clear()` by Query.
 */
export class DynamoDbStore implements CacheDriver {
  readonly name = 'dynamodb'
  readonly capabilities = storeCapabilities()
  readonly client: DynamoDBClient
  readonly table: string
  readonly #sdk: Sdk
  readonly #owns: boolean
  readonly #maxAttempts: number
  readonly #now: Clock
  /** Batch round trips that had to be repeated for unprocessed items (for tests and metrics). */
  unprocessedRetries = 0

  constructor(sdk: Sdk, client: DynamoDBClient, owns: boolean, options: DynamoDbCacheOptions) {
    this.#sdk = sdk
    this.client = client
    this.#owns = owns
    this.table = options.table ?? 'beaver_cache'
    this.#maxAttempts = options.maxBatchAttempts ?? 8
    this.#now = options.now ?? systemClock
  }

  #live(item: Item | undefined): item is Item {
    return item !== undefined && isLive(expiryOf(item), this.#now())
  }

  #expiry(ttlMs: number | undefined): Item {
    return expiry(expiresAt(ttlMs, this.#now()))
  }

  async #item(ns: string, key: string): Promise<Item | undefined> {
    const r = await this.client.send(
      new this.#sdk.GetItemCommand({ TableName: this.table, Key: keyOf(ns, key), ConsistentRead: true }),
    )
    return this.#live(r.Item) ? r.Item : undefined
  }

  async get(ns: string, key: string): Promise<StoredValue | undefined> {
    const item = await this.#item(ns, key)
    return item === undefined ? undefined : valueOf(item)
  }

  async has(ns: string, key: string): Promise<boolean> {
    const item = await this.#item(ns, key)
    return item !== undefined && valueOf(item).byteLength > 0
  }

  async set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    await this.client.send(
      new this.#sdk.PutItemCommand({
        TableName: this.table,
        Item: { ...keyOf(ns, key), v: { B: value as Uint8Array }, ...this.#expiry(ttlMs) },
      }),
    )
  }

  async delete(ns: string, key: string): Promise<boolean> {
    const r = await this.client.send(
      new this.#sdk.DeleteItemCommand({ TableName: this.table, Key: keyOf(ns, key), ReturnValues: 'ALL_OLD' }),
    )
    return this.#live(r.Attributes)
  }

  async pull(ns: string, key: string): Promise<StoredValue | undefined> {
    const r = await this.client.send(
      new this.#sdk.DeleteItemCommand({ TableName: this.table, Key: keyOf(ns, key), ReturnValues: 'ALL_OLD' }),
    )
    return this.#live(r.Attributes) ? valueOf(r.Attributes) : undefined
  }

  /** Retries a batch request's unprocessed part with backoff until done or out of attempts. */
  async #retrying<T>(what: string, first: T, send: (pending: T) => Promise<T | undefined>): Promise<void> {
    let pending: T | undefined = first
    for (let attempt = 1; pending !== undefined; attempt++) {
      pending = await send(pending)
      if (pending === undefined) return
      if (attempt >= this.#maxAttempts) {
        throw new CacheError(
          'CACHE_DRIVER',
          `DynamoDB left items of a ${what} unprocessed after ${attempt} attempts (throttling); raise the table's capacity or maxBatchAttempts.`,
          { details: { table: this.table } },
        )
      }
      this.unprocessedRetries++
      await sleep(backoffDelay(attempt, { baseMs: 25, maxMs: 2000 }))
    }
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    const found = new Map<string, Uint8Array>()
    for (let i = 0; i < keys.length; i += 100) {
      const chunk = keys.slice(i, i + 100)
      const request: Record<string, KeysAndAttributes> = {
        [this.table]: { Keys: chunk.map((k) => keyOf(ns, k)), ConsistentRead: true },
      }
      await this.#retrying('BatchGetItem', request, async (pending) => {
        const r = await this.client.send(new this.#sdk.BatchGetItemCommand({ RequestItems: pending }))
        for (const item of r.Responses?.[this.table] ?? [])
          if (this.#live(item)) found.set(item.s?.S ?? '', valueOf(item))
        const left = r.UnprocessedKeys?.[this.table]?.Keys
        return left && left.length > 0 ? { [this.table]: { Keys: left, ConsistentRead: true } } : undefined
      })
    }
    return keys.map((k) => found.get(`${ns}\u0000${k}`))
  }

  async #batchWrite(requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      await this.#retrying('BatchWriteItem', requests.slice(i, i + 25), async (pending) => {
        const r = await this.client.send(
          new this.#sdk.BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }),
        )
        const left = r.UnprocessedItems?.[this.table]
        return left && left.length > 0 ? left : undefined
      })
    }
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    await this.#batchWrite(
      entries.map((e) => ({
        PutRequest: { Item: { ...keyOf(ns, e.key), v: { B: e.value as Uint8Array }, ...this.#expiry(e.ttlMs) } },
      })),
    )
  }

  /** BatchWriteItem does not say what existed, so one BatchGetItem counts first. */
  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    const existing = (await this.getMany(ns, keys)).filter((v) => v !== undefined).length
    await this.#batchWrite(keys.map((k) => ({ DeleteRequest: { Key: keyOf(ns, k) } })))
    return existing
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const item = await this.#item(ns, key)
    if (item === undefined) return undefined
    return remaining(expiryOf(item), this.#now())
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    const now = String(this.#now())
    try {
      const condition = 'attribute_exists(s) AND (attribute_not_exists(m) OR m > :now)'
      if (ttlMs === undefined) {
        await this.client.send(
          new this.#sdk.UpdateItemCommand({
            TableName: this.table,
            Key: keyOf(ns, key),
            UpdateExpression: 'REMOVE m, e',
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':now': { N: now } },
          }),
        )
      } else {
        const x = this.#expiry(ttlMs)
        await this.client.send(
          new this.#sdk.UpdateItemCommand({
            TableName: this.table,
            Key: keyOf(ns, key),
            UpdateExpression: 'SET m = :m, e = :e',
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':m': x.m as AttributeValue, ':e': x.e as AttributeValue, ':now': { N: now } },
          }),
        )
      }
      return true
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false
      throw err
    }
  }

  /** Queries the namespace's partition for `<ns>\0` and `<ns>:` (nested namespaces) and deletes in batches. */
  async clear(ns: string): Promise<void> {
    const partition = keyOf(ns, '').p as AttributeValue
    for (const prefix of [`${ns}\u0000`, `${ns}:`]) {
      let start: Item | undefined
      do {
        const page: ddbsdk.QueryCommandOutput = await this.client.send(
          new this.#sdk.QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'p = :p AND begins_with(s, :s)',
            ExpressionAttributeValues: { ':p': partition, ':s': { S: prefix } },
            ProjectionExpression: 'p, s',
            ExclusiveStartKey: start,
          }),
        )
        const items = page.Items ?? []
        if (items.length > 0)
          await this.#batchWrite(
            items.map((it) => ({ DeleteRequest: { Key: { p: it.p as AttributeValue, s: it.s as AttributeValue } } })),
          )
        start = page.LastEvaluatedKey
      } while (start !== undefined)
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new this.#sdk.DescribeTableCommand({ TableName: this.table }))
  }

  close(): void {
    if (this.#owns) this.client.destroy()
  }
}

/**
 * Creates the cache table (on-demand billing, `p`/`s` keys) when missing, waits until it is
 * active, and enables TTL on attribute `e` where the endpoint supports it.
 * @example await createDynamoDbCacheTable(client, 'beaver_cache')
 */
export async function createDynamoDbCacheTable(client: DynamoDBClient, table = 'beaver_cache'): Promise<void> {
  const sdk = await importPeer(
    '@aws-sdk/client-dynamodb',
    () => import('@aws-sdk/client-dynamodb'),
    'the dynamodb cache driver',
  )
  try {
    await client.send(
      new sdk.CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'p', AttributeType: 'S' },
          { AttributeName: 's', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'p', KeyType: 'HASH' },
          { AttributeName: 's', KeyType: 'RANGE' },
        ],
      }),
    )
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceInUseException') throw err
  }
  await sdk.waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: table })
  try {
    await client.send(
      new sdk.UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'e', Enabled: true },
      }),
    )
  } catch (err) {
    // Already enabled, or an emulator without TTL support: expiry is still checked on read.
    const name = (err as { name?: string }).name
    if (name !== 'ValidationException' && name !== 'UnknownOperationException') throw err
  }
}

/**
 * The DynamoDB driver (AWS SDK v3, an optional peer: `npm install @aws-sdk/client-dynamodb`),
 * registered as `dynamodb`: `BEAVER_CACHE_DRIVER=dynamodb` builds it from the environment
 * alone (`BEAVER_CACHE_DYNAMODB_*`; the table must exist); explicit options win.
 * @example const cache = createCache({ driver: 'dynamodb', dynamodb: { table: 'beaver_cache' } })
 */
export const dynamoDbDriver = defineCacheDriver<DynamoDbCacheOptions>({
  name: 'dynamodb',
  peers: ['@aws-sdk/client-dynamodb'],
  section: 'dynamodb',
  async create(options, context) {
    const aws = options.client === undefined ? awsClientSettings(options, context, 'DYNAMODB') : {}
    const sdk = await importPeer(
      '@aws-sdk/client-dynamodb',
      () => import('@aws-sdk/client-dynamodb'),
      'the dynamodb cache driver',
    )
    const client = options.client ?? new sdk.DynamoDBClient({ ...aws, ...options.clientConfig })
    return new DynamoDbStore(sdk, client, options.client === undefined, options)
  },
})
