import cluster from 'node:cluster'
import { raceAbort } from '@beaver-kit/core'
import client from 'prom-client'
import { MetricsError } from './errors.ts'

// prom-client answers the primary from one process-wide list of registries.
const joined = new Set<client.Registry<client.RegistryContentType>>()
let aggregator: client.AggregatorRegistry<client.PrometheusContentType> | undefined

function listen(): client.AggregatorRegistry<client.PrometheusContentType> {
  // Constructing one installs prom-client's IPC listeners (idempotent inside prom-client).
  return (aggregator ??= new client.AggregatorRegistry())
}

/**
 * In a cluster worker, offers `registry` to the primary's scrapes; elsewhere does nothing.
 * Returns the function that withdraws it.
 */
export function joinCluster(registry: client.Registry<client.RegistryContentType>): () => void {
  if (!cluster.isWorker) return () => undefined
  listen()
  joined.add(registry)
  client.AggregatorRegistry.setRegistries([...joined])
  return () => {
    joined.delete(registry)
    client.AggregatorRegistry.setRegistries([...joined])
  }
}

/**
 * In the primary: every worker's metrics, summed per series (gauges by each metric's aggregator),
 * within `timeoutMs`; a worker that does not answer fails the scrape with METRICS_CLUSTER_TIMEOUT
 * rather than hiding its share. In a worker or without cluster: this registry only.
 */
export async function renderCluster(
  registry: client.Registry<client.RegistryContentType>,
  timeoutMs: number,
): Promise<string> {
  if (!cluster.isPrimary) return registry.metrics()
  const workers = Object.keys(cluster.workers ?? {}).length
  if (workers === 0) return registry.metrics()
  const text = await raceAbort(listen().clusterMetrics(), {
    timeoutMs,
    onTimeout: () =>
      new MetricsError(
        'METRICS_CLUSTER_TIMEOUT',
        `Not every one of the ${workers} cluster workers sent its metrics within ${timeoutMs} ms (BEAVER_METRICS_CLUSTER_TIMEOUT). Does each worker create its metrics with cluster: true?`,
        { details: { workers, timeoutMs } },
      ),
  }).catch((cause: unknown) => {
    if (cause instanceof MetricsError) throw cause
    throw new MetricsError(
      'METRICS_CLUSTER_TIMEOUT',
      `The cluster workers' metrics could not be gathered: ${(cause as Error).message}`,
      { cause },
    )
  })
  return text
}
