// Which stream a line goes to and whether it carries colours, in a real child process: through
// pipes, and on a real pseudo-terminal (util-linux `script` gives the child a TTY), with NO_COLOR
// and FORCE_COLOR. The README: "Colors only on a TTY (and never with NO_COLOR)".
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/text-lines.ts', import.meta.url))
const ESC = '\x1b['
const YELLOW_WARN = '\x1b[33mWARN \x1b[0m'

interface Run {
  stdout: string
  stderr: string
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, BEAVER_LOG_FORMAT: 'text', ...extra }
  return env
}

/** The fixture with its stdout and stderr on pipes. */
function piped(extra: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--conditions=@beaver-kit/source', fixture],
      { env: baseEnv(extra) },
      (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
    )
  })
}

/**
 * The fixture on a pseudo-terminal: `script` runs it with stdin, stdout and stderr on a pty and
 * copies what the terminal shows to its own stdout. `redirect` sends one of the child's streams
 * to a pipe instead (`2>/dev/null`), so a stream that is not the terminal can be told apart.
 */
function onTerminal(extra: Record<string, string>, redirect = ''): Promise<string> {
  const command = `'${process.execPath}' --conditions=@beaver-kit/source '${fixture}' ${redirect}`
  return new Promise((resolve, reject) => {
    execFile('script', ['-qec', command, '/dev/null'], { env: baseEnv(extra) }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })
}

describe('text output on pipes and terminals', () => {
  it('writes to stderr when told, nothing to stdout, and without colours on a pipe', async () => {
    const run = await piped({ BEAVER_LOG_OUTPUTS: 'stderr' })
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(/ WARN {2}\[term\] disk nearly full id=7\n$/)
    expect(run.stderr).not.toContain(ESC)
  })

  it('writes to stdout by default, without colours on a pipe', async () => {
    const run = await piped({})
    expect(run.stderr).toBe('')
    expect(run.stdout).toMatch(/ WARN {2}\[term\] disk nearly full id=7\n$/)
    expect(run.stdout).not.toContain(ESC)
  })

  it('colours the level on a real terminal, for stdout and for stderr', async () => {
    const shown = await Promise.all(['stdout', 'stderr'].map((output) => onTerminal({ BEAVER_LOG_OUTPUTS: output })))
    for (const text of shown) {
      expect(text).toContain(YELLOW_WARN)
      expect(stripVTControlCharacters(text)).toMatch(/ WARN {2}\[term\] disk nearly full id=7/)
    }
  })

  it('decides per stream: stderr on the terminal is coloured while stdout goes to a pipe, and the reverse', async () => {
    // stdout redirected away: the terminal shows only the stderr output, coloured; stderr sent
    // to /dev/null: the terminal shows only the stdout output.
    const [stderrShown, stdoutShown] = await Promise.all([
      onTerminal({ BEAVER_LOG_OUTPUTS: 'stdout,stderr' }, '>/dev/null'),
      onTerminal({ BEAVER_LOG_OUTPUTS: 'stdout,stderr' }, '2>/dev/null'),
    ])
    expect(stderrShown).toContain(YELLOW_WARN)
    expect(stderrShown.match(/disk nearly full/g)).toHaveLength(1)
    expect(stdoutShown).toContain(YELLOW_WARN)
    expect(stdoutShown.match(/disk nearly full/g)).toHaveLength(1)
  })

  it('never colours with NO_COLOR, even on a terminal and even with FORCE_COLOR', async () => {
    const envs: Array<Record<string, string>> = [{ NO_COLOR: '1' }, { NO_COLOR: '1', FORCE_COLOR: '1' }]
    const shown = await Promise.all(envs.map((env) => onTerminal({ BEAVER_LOG_OUTPUTS: 'stdout', ...env })))
    for (const text of shown) {
      expect(text).toMatch(/ WARN {2}\[term\] disk nearly full id=7/)
      expect(text).not.toContain(ESC)
    }
  })

  it('colours a pipe with FORCE_COLOR (CI logs), but not with FORCE_COLOR=0', async () => {
    const [forced, zero] = await Promise.all([
      piped({ BEAVER_LOG_OUTPUTS: 'stderr', FORCE_COLOR: '1' }),
      piped({ BEAVER_LOG_OUTPUTS: 'stderr', FORCE_COLOR: '0' }),
    ])
    expect(forced.stderr).toContain(YELLOW_WARN)
    expect(zero.stderr).not.toContain(ESC)
  })

  it('never colours a file, whatever FORCE_COLOR says', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = await mkdtemp(join(tmpdir(), 'beaver-log-term-'))
    try {
      const file = join(dir, 'app.log')
      await piped({ BEAVER_LOG_OUTPUTS: `file:${file}`, FORCE_COLOR: '1' })
      const text = await readFile(file, 'utf8')
      expect(text).toMatch(/ WARN {2}\[term\] disk nearly full id=7\n$/)
      expect(text).not.toContain(ESC)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
