import { describeInstance, resolveConfig, toMs } from '@beaver-kit/config'
import { onBeforeShutdown, raceAbort, traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { queueSchema, type QueueSettings } from './config.ts'
import type { ConsumeOptions, Consumer } from './consumer-api.ts'
import { QueueConsumer, type ConsumerHost } from './consumer.ts'
import type { DriverMessage, QueueCapabilities, QueueDriver } from './driver.ts'
import { QueueError, unsupported } from './errors.ts'
import {
  addTraceHeaders,
  checkQueueName,
  checkText,
  checkTopicName,
  invalid,
  topicQueueName,
  jsonSerializer,
  type BatchItem,
  type JobDefinition,
  type PublishOptions,
} from './message.ts'
import { newMessageId } from './message-id.ts'
import { compose, type PublishContext, type QueueMiddleware } from './middleware.ts'
import { startRelay, type Relay } from './outbox.ts'
import { hasQueueDriver, loadQueueDriver, unknownQueueDriver } from './registry.ts'
import type { Queue, QueueOptions } from './queue-api.ts'

const MAX_PRIORITY = 1_000_000
/** Namespaced queue names kept for reuse; past this many (names made on the fly) the cache starts over. */
const MAX_KEPT_NAMES = 1000

/**
 * Builds a queue from options, then `BEAVER_QUEUE_*`, then defaults. Does no I/O; invalid
 * configuration throws one ConfigError naming every bad variable.
 * @example
 * await using q = createQueue({ driver: 'memory' })
 * await q.consume('emails', async (m) => send(m.payload))
 * await q.publish('emails', { to: 'a@b.c' })
 */
export function createQueue(options: QueueOptions = {}): Queue {
  const {
    envPrefix,
    env,
    driver: driverOption,
    driverOptions,
    serializer = jsonSerializer,
    now = Date.now,
    ...settings
  } = options
  const resolved = resolveConfig(queueSchema, {
    options: { ...settings, driver: typeof driverOption === 'string' ? driverOption : undefined } as QueueSettings,
    envPrefix,
    ...(env ? { env } : {}),
  })
  const config = resolved.values
  const definition = typeof driverOption === 'object' ? driverOption : undefined
  const driverName = definition?.name ?? config.driver
  if (!definition && !hasQueueDriver(driverName)) throw unknownQueueDriver(driverName)
  const namespace = config.namespace
  // The namespaced names already made: a publish looks its queue up by name (the driver's maps,
  // the broker's routing key), and a string made afresh each time is flattened and hashed again.
  const fullNames = new Map<string, string>()
  const full = (queue: string): string => {
    let name = fullNames.get(queue)
    if (name === undefined) {
      name = `${namespace}/${checkQueueName(queue)}`
      if (fullNames.size >= MAX_KEPT_NAMES) fullNames.clear()
      fullNames.set(queue, name)
    }
    return name
  }
  const middleware: QueueMiddleware[] = []
  /** The publish hooks of `middleware`, in order (kept as middleware is added, not per publish). */
  const publishLayers: ((ctx: PublishContext, next: () => Promise<string[]>) => Promise<string[]>)[] = []
  const consumers = new Set<Consumer>()
  const relays = new Set<Relay>()
  let closed = false
  let loading: Promise<QueueDriver> | undefined
  let loaded: QueueDriver | undefined
  let connectionLost = false
  // On shutdown, consumers stop fetching and drain in the "stop accepting work" phase, while
  // the database or Redis they acknowledge to is still open (instances close afterwards, in
  // reverse order of creation, and the default db() is created after the queue that uses it).
  const drain = (): Promise<unknown> => Promise.allSettled([...consumers, ...relays].map((c) => c.close()))
  const removeDrainHook = onBeforeShutdown(drain)

  const onConnection = (state: 'lost' | 'restored', error?: unknown): void => {
    if ((state === 'lost') === connectionLost) return
    connectionLost = state === 'lost'
    if (channels.connection.hasSubscribers) channels.connection.publish({ driver: driverName, state, error })
  }

  const closedError = (): QueueError =>
    new QueueError('QUEUE_CLOSED', 'This queue is closed; create a new one (or resetQueue() for the default).')

  function driver(): Promise<QueueDriver> {
    if (closed) return Promise.reject(closedError())
    loading ??= (async () => {
      const def = definition ?? (await loadQueueDriver(driverName))
      const section = def.section
      const fromEnv = section ? (config as Record<string, unknown>)[section] : undefined
      const defaulted = resolved.entries.find((e) => e.path === 'driver')?.source === 'default'
      const driverSettings = {
        ...(typeof fromEnv === 'object' ? fromEnv : {}),
        ...(defaulted && !definition ? { followDatabase: true } : {}),
        ...driverOptions,
      }
      const built = await def.create(driverSettings as never, {
        now,
        settings: {
          keepCompletedMs: config.keepCompleted,
          keepCompletedMax: config.keepCompletedMax,
          keepDeadMs: config.keepDead,
          pollIntervalMs: config.pollInterval,
        },
        onConnection,
      })
      if (closed) {
        await built.close()
        throw closedError()
      }
      loaded = built
      return built
    })()
    // A failed load (missing peer, bad URL) is not kept: the next call tries again.
    loading.catch(() => (loading = undefined))
    return loading
  }

  function toDriverMessage(
    queueName: string,
    payload: unknown,
    o: PublishOptions,
    caps: QueueCapabilities,
  ): DriverMessage {
    let text: string
    try {
      text = serializer.serialize(payload)
    } catch (error) {
      throw new QueueError(
        'QUEUE_SERIALIZE_FAILED',
        `The payload for "${queueName}" cannot be serialized with ${serializer.name}: ${(error as Error).message ?? String(error)}`,
        { cause: error, details: { queue: queueName, serializer: serializer.name } },
      )
    }
    // A UTF-8 byte is at most 3 per UTF-16 unit: most payloads need no byte count.
    if (text.length * 3 > config.maxPayloadSize && Buffer.byteLength(text) > config.maxPayloadSize) {
      throw new QueueError(
        'QUEUE_PAYLOAD_TOO_LARGE',
        `The payload for "${queueName}" is ${Buffer.byteLength(text)} bytes serialized; BEAVER_QUEUE_MAX_PAYLOAD_SIZE allows ${config.maxPayloadSize}.`,
        { details: { queue: queueName, size: Buffer.byteLength(text), max: config.maxPayloadSize } },
      )
    }
    const t = now()
    const runAt =
      o.runAt !== undefined
        ? o.runAt instanceof Date
          ? o.runAt.getTime()
          : o.runAt
        : o.delay !== undefined
          ? t + toMs(o.delay, 'delay')
          : t
    if (!Number.isFinite(runAt)) throw invalid('runAt', 'a Date or a number of ms since epoch', o.runAt)
    if (runAt > t && !caps.delay) throw unsupported('delay', driverName)
    const priority = o.priority ?? 0
    if (!Number.isInteger(priority) || Math.abs(priority) > MAX_PRIORITY) {
      throw invalid('priority', `an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`, priority)
    }
    if (priority !== 0 && !caps.priority) throw unsupported('priority', driverName)
    if (o.dedupeKey !== undefined && !caps.dedupe) throw unsupported('dedupeKey', driverName)
    const attempts = o.attempts ?? config.attempts
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000)
      throw invalid('attempts', 'an integer from 1 to 1000', attempts)
    const headers: Record<string, string> = {}
    if (o.headers !== undefined) {
      for (const [k, v] of Object.entries(o.headers)) {
        if (typeof v !== 'string') throw invalid(`headers.${k}`, 'a string', v)
        headers[k] = v
      }
    }
    let id: string
    if (o.id === undefined) id = newMessageId(t)
    else {
      id = o.id
      checkText('id', id, 200)
    }
    if (o.dedupeKey !== undefined) checkText('dedupeKey', o.dedupeKey, 200)
    if (o.group !== undefined) checkText('group', o.group, 200)
    return {
      id,
      queue: full(queueName),
      payload: text,
      headers,
      priority,
      runAt,
      maxAttempts: attempts,
      backoffBaseMs: o.backoff?.base === undefined ? config.backoff.base : toMs(o.backoff.base, 'backoff.base'),
      backoffMaxMs: o.backoff?.max === undefined ? config.backoff.max : toMs(o.backoff.max, 'backoff.max'),
      timeoutMs: o.timeout === undefined ? 0 : toMs(o.timeout, 'timeout'),
      group: o.group,
      dedupeKey: o.dedupeKey,
      createdAt: t,
    }
  }

  /** The driver and what a publish to `target` needs of it, checked. */
  async function publishTarget<T>(
    target: string | JobDefinition<T>,
    tx: unknown,
    fanOut: boolean,
  ): Promise<{ job: JobDefinition<T> | undefined; queueName: string; d: QueueDriver }> {
    const job = typeof target === 'string' ? undefined : target
    const queueName = fanOut
      ? checkTopicName('Topic', job ? job.queue : target)
      : checkQueueName(job ? job.queue : target)
    // Loaded already (the usual case): no await, so a publish costs one turn less.
    const d = loaded !== undefined && !closed ? loaded : await driver()
    const caps = d.capabilities
    if (tx !== undefined && !caps.transactional) throw unsupported('tx (transactional publish)', driverName)
    if (fanOut && (!caps.fanOut || !d.publishTopic)) throw unsupported('publishTopic (pub/sub fan-out)', driverName)
    return { job, queueName, d }
  }

  async function publishOne<T>(
    target: string | JobDefinition<T>,
    payload: T,
    o: PublishOptions,
    fanOut: boolean,
  ): Promise<string> {
    const { job, queueName, d } = await publishTarget(target, o.tx, fanOut)
    const value = job?.parse ? job.parse(payload) : payload
    const message = toDriverMessage(queueName, value, job ? { ...job.defaults, ...o } : o, d.capabilities)
    const [id] = await send(d, queueName, [message], o.tx, fanOut)
    return id as string
  }

  async function publishMany<T>(
    target: string | JobDefinition<T>,
    items: readonly BatchItem<T>[],
    tx: unknown,
  ): Promise<string[]> {
    const { job, queueName, d } = await publishTarget(target, tx, false)
    const messages = items.map((item) => {
      const { payload, ...o } = item
      const value = job?.parse ? job.parse(payload) : payload
      return toDriverMessage(queueName, value, { ...job?.defaults, ...o }, d.capabilities)
    })
    if (messages.length === 0) return []
    return send(d, queueName, messages, tx, false)
  }

  /** Hands checked messages to the driver, through the publish middleware and the channel. */
  async function send(
    d: QueueDriver,
    queueName: string,
    messages: DriverMessage[],
    tx: unknown,
    fanOut: boolean,
  ): Promise<string[]> {
    if (config.maxWaiting > 0 && !fanOut) {
      const counts = await d.counts(full(queueName))
      if (counts.waiting + counts.delayed + messages.length > config.maxWaiting) {
        throw new QueueError(
          'QUEUE_FULL',
          `Queue "${queueName}" holds ${counts.waiting + counts.delayed} waiting messages; BEAVER_QUEUE_MAX_WAITING allows ${config.maxWaiting}.`,
          { details: { queue: queueName, waiting: counts.waiting + counts.delayed, max: config.maxWaiting } },
        )
      }
    }
    const options = tx === undefined ? {} : { tx }
    const store = (): Promise<string[]> =>
      fanOut && d.publishTopic ? d.publishTopic(full(queueName), messages, options) : d.enqueue(messages, options)
    if (!channels.publish.hasSubscribers) {
      // Nobody traces: no span to take headers from but an outer one, no trace record to fill.
      if (config.propagateTrace) addTraceHeaders(messages)
      return publishLayers.length === 0
        ? store()
        : compose(publishLayers, { queue: queueName, driver: driverName, messages }, store)
    }
    const ctx: PublishContext = { queue: queueName, driver: driverName, messages }
    const trace = {
      queue: queueName,
      driver: driverName,
      count: messages.length,
      ids: undefined as string[] | undefined,
    }
    return traceAsync(
      channels.publish,
      () => trace,
      async () => {
        // Inside the publish span, so a tracer's producer span is what the consumer links to.
        if (config.propagateTrace) addTraceHeaders(messages)
        const ids = await compose(publishLayers, ctx, store)
        trace.ids = ids
        return ids
      },
    )
  }

  const host = (d: QueueDriver): ConsumerHost => ({
    driverName,
    driver: d,
    serializer,
    now,
    middleware: [...middleware],
    defaults: {
      concurrency: config.concurrency,
      leaseMs: config.leaseTime,
      pollIntervalMs: config.pollInterval,
      drainTimeoutMs: config.drainTimeout,
    },
    onConnection,
    forget: (c) => consumers.delete(c),
  })

  function checkConsumeOptions(d: QueueDriver, o: ConsumeOptions): void {
    if (o.groupConcurrency !== undefined && !d.capabilities.fairness) throw unsupported('groupConcurrency', driverName)
    if (o.renewLease === false && !d.capabilities.extendLease) throw unsupported('renewLease: false', driverName)
  }

  const q: Queue = {
    driver: driverName,
    namespace,
    publish: (target, payload, o = {}) => publishOne(target, payload, o, false),
    publishBatch: (target, items, o = {}) => publishMany(target, items, o.tx),
    publishTopic: (target, payload, o = {}) => publishOne(target, payload, o, true),
    async subscribe(target, group, handler, o = {}) {
      const job = typeof target === 'string' ? undefined : target
      const topic = checkTopicName('Topic', job ? job.queue : target)
      const groupQueue = topicQueueName(topic, group)
      const d = await driver()
      if (!d.capabilities.fanOut || !d.subscribe) throw unsupported('subscribe (pub/sub fan-out)', driverName)
      // Before the subscription, which is durable: a refused option leaves no group behind.
      checkConsumeOptions(d, o)
      await d.subscribe(full(topic), full(groupQueue))
      return q.consume(job ? { ...job, queue: groupQueue } : groupQueue, handler, o)
    },
    async consume(target, handler, o = {}) {
      const job = typeof target === 'string' ? undefined : target
      const queueName = checkQueueName(job ? job.queue : target)
      const d = await driver()
      checkConsumeOptions(d, o)
      const consumer = new QueueConsumer(host(d), queueName, full(queueName), handler, job?.parse, o)
      consumers.add(consumer)
      consumer.start()
      return consumer
    },
    publisher(job) {
      return {
        queue: job.queue,
        publish: (payload, o) => q.publish(job, payload, o),
        publishBatch: (items, o) => q.publishBatch(job, items, o),
      }
    },
    use(m) {
      middleware.push(m)
      if (m.publish) publishLayers.push(m.publish.bind(m))
      return q
    },
    async cancel(queueName, id) {
      const d = await driver()
      if (!d.capabilities.cancel) throw unsupported('cancel', driverName)
      return d.cancel(full(queueName), id)
    },
    get: async (queueName, id) => (await driver()).get(full(queueName), id),
    counts: async (queueName) => (await driver()).counts(full(queueName)),
    async queues() {
      const all = await (await driver()).queues()
      const prefix = `${namespace}/`
      return all.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length))
    },
    dlq(queueName) {
      const name = full(queueName)
      return {
        list: async (o = {}) =>
          (await driver()).listDead(name, { limit: Math.min(o.limit ?? 100, 1000), offset: o.offset ?? 0 }),
        replay: async (id) => (await (await driver()).replayDead(name, [id])) > 0,
        replayAll: async () => (await driver()).replayDead(name, 'all'),
        purge: async (id) => (await driver()).purgeDead(name, id === undefined ? 'all' : [id]),
      }
    },
    capabilities: async () => (await driver()).capabilities,
    async health(o = {}) {
      const start = performance.now()
      try {
        const d = await driver()
        await raceAbort(d.ping(), { timeoutMs: o.timeout === undefined ? undefined : toMs(o.timeout, 'timeout') })
        return { ok: true, driver: driverName, latencyMs: Math.round((performance.now() - start) * 100) / 100 }
      } catch (error) {
        return { ok: false, driver: driverName, error: (error as Error).message ?? String(error) }
      }
    },
    consumers: () => [...consumers],
    async relay(target, o) {
      for (const name of o.queues) checkQueueName(name)
      const d = await driver()
      const relay = startRelay({ driver: d, serializer, full, now }, target, {
        ...o,
        leaseMs: config.leaseTime,
        pollIntervalMs: config.pollInterval,
      })
      relays.add(relay)
      const close = relay.close.bind(relay)
      relay.close = () => close().finally(() => relays.delete(relay))
      return relay
    },
    ready: (o = {}) =>
      traceAsync(
        channels.ready,
        () => ({ driver: driverName }),
        async () => {
          const d = await driver()
          await raceAbort(d.ping(), { signal: o.signal })
        },
      ),
    describe: () =>
      describeInstance('queue', envPrefix, resolved.entries, {
        driver: driverName,
        consumers: consumers.size,
        connected: loaded !== undefined && !connectionLost,
      }),
    async close() {
      if (closed) return
      removeDrainHook()
      await drain()
      closed = true
      const d = loaded ?? (await loading?.catch(() => undefined))
      await d?.close()
    },
    [Symbol.asyncDispose]: () => q.close(),
  }
  return q
}
