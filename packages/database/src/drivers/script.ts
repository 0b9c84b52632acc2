/**
 * Splits a SQL script into statements at top-level semicolons, leaving quoted text,
 * identifiers and comments intact. For drivers that run one statement per call (mysql2
 * without multipleStatements, which we keep off). DELIMITER blocks are not supported.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = []
  let start = 0
  let i = 0
  const n = script.length
  while (i < n) {
    const c = script[i]
    if (c === "'" || c === '"' || c === '`') {
      i++
      while (i < n && script[i] !== c) i += script[i] === '\\' ? 2 : 1
      i++
    } else if (c === '-' && script[i + 1] === '-') {
      while (i < n && script[i] !== '\n') i++
    } else if (c === '#') {
      while (i < n && script[i] !== '\n') i++
    } else if (c === '/' && script[i + 1] === '*') {
      const end = script.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
    } else if (c === ';') {
      const stmt = script.slice(start, i).trim()
      if (hasCode(stmt)) out.push(stmt)
      start = ++i
    } else {
      i++
    }
  }
  const last = script.slice(start).trim()
  if (hasCode(last)) out.push(last)
  return out
}

function hasCode(stmt: string): boolean {
  return stmt.replace(/--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\//g, '').trim() !== ''
}
