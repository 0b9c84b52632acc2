import { afterAll, beforeAll } from 'vitest'
import { isCI } from '@beaver-kit/testkit'
import { startSshd, sshdUnavailable, type LocalSshd } from '@beaver-kit/testkit/sftp-server'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

// Against Debian's OpenSSH 9.2 sshd (internal-sftp, chrooted), started here on a free port.
const unavailable = sshdUnavailable()
if (unavailable && isCI()) throw new Error(`the sftp tests need a real sshd: ${unavailable}`)
if (unavailable) console.log(`skipping the sftp conformance suite: ${unavailable}`)

let sshd: LocalSshd | undefined
beforeAll(async () => {
  if (!unavailable) sshd = await startSshd()
})
afterAll(() => sshd?.stop())

const signing = { key: 'k'.repeat(40), baseUrl: 'http://files.test/signed' }

if (!unavailable)
  describeStorageDriver(
    'sftp',
    (namespace) =>
      createStorage({
        driver: 'sftp',
        namespace,
        envPrefix: false,
        maxFileSize: 1024 * 1024,
        signing,
        sftp: {
          host: sshd!.host,
          port: sshd!.port,
          username: sshd!.username,
          privateKey: sshd!.privateKey,
          hostFingerprint: sshd!.hostFingerprint,
          root: sshd!.root,
        },
      }),
    { maxFileSize: 1024 * 1024, multipartBytes: 300_000, multipart: false, nativeSignedUrls: false, tags: true },
  )
