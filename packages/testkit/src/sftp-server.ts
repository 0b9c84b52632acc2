// A real OpenSSH server (Debian's openssh-server, installed by scripts/services.sh) started by a
// test on a free port, with a throwaway host key and user key, serving SFTP only
// (internal-sftp) with files in a temp folder. sshd must run as root (it does here and in CI).
// No ChrootDirectory: sshd wants every component of a chroot root-owned and not world-writable,
// which no folder under /tmp is; the disk's root is the temp folder's absolute path instead.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from './services.ts'

/** Where sshd is, when installed. */
export const SSHD = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'].find((p) => existsSync(p))

/** Why a real sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!SSHD) return 'sshd is not installed (apt-get install openssh-server; scripts/services.sh does)'
  if (spawnSync('ssh-keygen', ['-lf', '/dev/null']).error) return 'ssh-keygen is missing (openssh-client)'
  if (process.getuid?.() !== 0) return 'sshd needs root to start'
  return undefined
}

export interface LocalSshd {
  host: string
  port: number
  username: string
  /** The user's private key (OpenSSH text). */
  privateKey: string
  /** The host key's fingerprint as `ssh-keygen -lf` prints it. */
  hostFingerprint: string
  /** An empty folder (absolute path, on this machine and on the server alike) for the disk's root. */
  root: string
  /** What sshd wrote to stderr (-e), for failing tests. */
  log(): string
  stop(): Promise<void>
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'beaver-test', '-f', file])
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`)
}

/**
 * Starts `sshd -D -e -f <temp config>` on a free loopback port, accepting only the generated
 * user key for the current user (root), SFTP only; `root` is an empty temp folder. Resolves
 * once sshd listens.
 * @example const sshd = await startSshd(); ...; await sshd.stop()
 */
export async function startSshd(): Promise<LocalSshd> {
  const unavailable = sshdUnavailable()
  if (unavailable) throw new Error(unavailable)
  const dir = await mkdtemp(join(tmpdir(), 'beaver-sshd-'))
  const root = join(dir, 'files')
  await mkdir(root)
  keygen(join(dir, 'host_key'))
  keygen(join(dir, 'user_key'))
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')))
  await mkdir('/run/sshd', { recursive: true })
  const username = userInfo().username
  const port = await freePort()
  await writeFile(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      'PidFile none',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      `AllowUsers ${username}`,
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'MaxStartups 100',
      'MaxSessions 100',
      '',
    ].join('\n'),
  )
  const fingerprint =
    spawnSync('ssh-keygen', ['-lf', join(dir, 'host_key.pub')])
      .stdout.toString()
      .split(' ')[1] ?? ''
  let stderr = ''
  const child: ChildProcess = spawn(SSHD!, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (stderr.includes('Server listening')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${stderr}`)))
  })
  return {
    host: '127.0.0.1',
    port,
    username,
    privateKey: await readFile(join(dir, 'user_key'), 'utf8'),
    hostFingerprint: fingerprint,
    root,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
