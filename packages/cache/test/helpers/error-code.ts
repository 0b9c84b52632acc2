/** The `code` of what `fn` throws, or undefined when it throws nothing. */
export function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}
