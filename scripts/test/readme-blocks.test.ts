import { describe, expect, it } from 'vitest'
import { extractRunBlocks } from '../readme-blocks.ts'

describe('extractRunBlocks', () => {
  it('takes ```ts run blocks with their fence line, and leaves fragments and other languages alone', () => {
    const md = [
      '# x', //                              1
      '```ts run', //                        2
      "import { a } from 'a'", //           3
      'await a()', //                        4
      '```', //                              5
      '```ts', //                            6
      'fragment()', //                       7
      '```', //                              8
      '```sh run', //                        9
      'npm test', //                         10
      '```', //                              11
      '~~~typescript run timeout=120s', //   12
      'slow()', //                           13
      '~~~', //                              14
    ].join('\n')
    expect(extractRunBlocks(md)).toEqual([
      { line: 2, code: "import { a } from 'a'\nawait a()\n", timeoutMs: undefined },
      { line: 12, code: 'slow()\n', timeoutMs: 120_000 },
    ])
  })

  it('keeps a shorter fence inside a longer one as code, and reads CRLF files', () => {
    const md = '````ts run\r\nconst s = `\r\n```\r\n`\r\n````\r\n'
    expect(extractRunBlocks(md)).toEqual([{ line: 1, code: 'const s = `\n```\n`\n', timeoutMs: undefined }])
  })
})
