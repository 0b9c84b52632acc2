/** Edit distance, for "did you mean" on misspelt variable names. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
    }
    prev = cur
  }
  return prev[b.length] as number
}

/** The closest known name within a small distance, or undefined. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  const limit = Math.max(2, Math.floor(name.length / 6))
  for (const candidate of known) {
    const d = levenshtein(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= limit ? best : undefined
}
