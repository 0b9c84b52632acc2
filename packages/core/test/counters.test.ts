import { describe, expect, it } from 'vitest'
import { publishCounters, readCounters, watchRetiredCounters, type CounterReading } from '@beaver-kit/core'

describe('counter sources', () => {
  it('reads every live source of a package, and hands the last reading of a closed one to the watchers', () => {
    const pkg = `p${Date.now().toString(36)}`
    let hits = 0
    const first = (): CounterReading[] => [{ labels: { ns: 'a' }, counts: { hits } }]
    const second = (): CounterReading[] => [{ labels: { ns: 'b' }, counts: { hits: 7 } }]
    const unpublishFirst = publishCounters(pkg, first)
    const unpublishSecond = publishCounters(pkg, second)
    hits = 3
    expect(readCounters(pkg)).toEqual([
      { labels: { ns: 'a' }, counts: { hits: 3 } },
      { labels: { ns: 'b' }, counts: { hits: 7 } },
    ])
    const retired: Array<[string, readonly CounterReading[]]> = []
    const unwatch = watchRetiredCounters((from, readings) => retired.push([from, readings]))
    hits = 4
    unpublishFirst()
    unpublishFirst()
    expect(retired).toEqual([[pkg, [{ labels: { ns: 'a' }, counts: { hits: 4 } }]]])
    expect(readCounters(pkg)).toEqual([{ labels: { ns: 'b' }, counts: { hits: 7 } }])
    unwatch()
    unpublishSecond()
    expect(retired).toHaveLength(1)
    expect(readCounters(pkg)).toEqual([])
    expect(readCounters('nothing-published')).toEqual([])
  })
})
