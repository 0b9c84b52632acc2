// What the machine was doing while a bench ran, written into every results.json.

/** The conditions a report was measured under (written by `runBench`). */
export interface BenchConditions {
  loadStart: number
  loadEnd: number
  /** Nanoseconds per `performance.now()`: every timed operation pays two (a sandboxed VM can make it 10x a bare host's). */
  clockReadNs: number
}

/** What one `performance.now()` costs here, in ns (median of five 200,000-read loops). */
export function clockReadNs(): number {
  const runs: number[] = []
  let sink = 0
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < 200_000; i++) sink += performance.now()
    runs.push(Number(process.hrtime.bigint() - t) / 200_000)
  }
  runs.sort((a, b) => a - b)
  return sink === -1 ? 0 : Math.round(runs[2] as number)
}
