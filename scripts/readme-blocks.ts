// Finds the code blocks of a Markdown file that claim to run: fenced ```ts run (the info string
// may add timeout=120s). Other blocks, ```ts included, are fragments and are left alone.

export interface RunBlock {
  /** Line of the opening fence (1-based): code line n is README line `line + n`. */
  line: number
  code: string
  timeoutMs?: number
}

export function extractRunBlocks(markdown: string): RunBlock[] {
  const blocks: RunBlock[] = []
  const lines = markdown.split(/\r?\n/)
  let open: { fence: string; line: number; run: boolean; timeoutMs?: number; body: string[] } | undefined
  lines.forEach((text, i) => {
    if (open) {
      if (text.trim().startsWith(open.fence) && text.trim().replace(/[`~]/g, '') === '') {
        if (open.run) blocks.push({ line: open.line, code: `${open.body.join('\n')}\n`, timeoutMs: open.timeoutMs })
        open = undefined
      } else {
        open.body.push(text)
      }
      return
    }
    const m = /^ {0,3}(`{3,}|~{3,})\s*([^`]*)$/.exec(text)
    if (!m) return
    const [lang, ...words] = (m[2] ?? '').trim().split(/\s+/)
    const run = (lang === 'ts' || lang === 'typescript') && words.includes('run')
    const timeout = words.map((w) => /^timeout=(\d+)s$/.exec(w)).find(Boolean)
    open = { fence: m[1] as string, line: i + 1, run, body: [] }
    if (timeout) open.timeoutMs = Number(timeout[1]) * 1000
  })
  return blocks
}
