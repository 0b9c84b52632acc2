/**
 * Counters a live kit instance keeps anyway (a cache's hits and misses, a database's
 * statements), readable by whoever scrapes them: metrics read them when `/metrics` is rendered
 * instead of observing every operation, so turning metrics on adds nothing to a cache read or
 * a query. Sources are held weakly: an instance nobody closed is not kept alive by this.
 */
export interface CounterReading {
  /** The label values naming the series (driver, namespace, ...). */
  readonly labels: Readonly<Record<string, string>>
  /** Totals since the instance was made, by counter name (hits, misses, statements, ...). */
  readonly counts: Readonly<Record<string, number>>
}

/** What an instance publishes: its counters as they are now. */
export type CounterSource = () => readonly CounterReading[]

/** Told the last readings of a source that went away (its instance closed), so totals never go back. */
export type RetiredCounters = (pkg: string, readings: readonly CounterReading[]) => void

interface CounterRegistry {
  readonly live: Map<string, Set<WeakRef<CounterSource>>>
  readonly retired: Set<RetiredCounters>
}

const KEY = Symbol.for('beaver-kit.counter-sources')
const store = globalThis as typeof globalThis & { [KEY]?: CounterRegistry }
const registry: CounterRegistry = (store[KEY] ??= { live: new Map(), retired: new Set() })

/**
 * Makes `source` readable under `pkg` until the returned function is called (when the instance
 * closes); that last call reads it once more for the watchers of `watchRetiredCounters`. The
 * caller keeps `source` referenced (a field of the instance): only a weak reference is held here.
 * @example
 * this.#counters = () => [{ labels: { driver }, counts: { statements: this.#statements } }]
 * this.#unpublish = publishCounters('database', this.#counters)
 */
export function publishCounters(pkg: string, source: CounterSource): () => void {
  let set = registry.live.get(pkg)
  if (set === undefined) registry.live.set(pkg, (set = new Set()))
  const ref = new WeakRef(source)
  set.add(ref)
  let done = false
  return () => {
    if (done) return
    done = true
    set.delete(ref)
    if (registry.retired.size === 0) return
    const last = source()
    for (const watcher of registry.retired) watcher(pkg, last)
  }
}

/** The readings of every live source of `pkg`, now. */
export function readCounters(pkg: string): CounterReading[] {
  const set = registry.live.get(pkg)
  const out: CounterReading[] = []
  if (set === undefined) return out
  for (const ref of set) {
    const source = ref.deref()
    if (source === undefined) set.delete(ref)
    else out.push(...source())
  }
  return out
}

/** Calls `watcher` with the last readings of each source unpublished from now on. Returns the unwatch. */
export function watchRetiredCounters(watcher: RetiredCounters): () => void {
  registry.retired.add(watcher)
  return () => {
    registry.retired.delete(watcher)
  }
}
