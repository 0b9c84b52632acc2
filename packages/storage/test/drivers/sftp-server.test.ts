import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCI, uniqueNamespace } from '@beaver-kit/testkit'
import { startFaultProxy, type FaultProxy } from '@beaver-kit/testkit/fault-proxy'
import { startSshd, sshdUnavailable, type LocalSshd } from '@beaver-kit/testkit/sftp-server'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'
import { sftpDriver, type SftpDisk, type SftpStorageOptions } from '@beaver-kit/storage/sftp'
import { zipDriver } from '@beaver-kit/storage/zip'

// What the conformance suite cannot show, against the same real OpenSSH sshd: connection
// reuse and reconnection (through a TCP proxy that cuts connections), bounded concurrency,
// symlinks on the server that lead out of the root, host key checks, settings and secrets.
const unavailable = sshdUnavailable()
if (unavailable && isCI()) throw new Error(`the sftp tests need a real sshd: ${unavailable}`)

let sshd: LocalSshd
let proxy: FaultProxy
beforeAll(async () => {
  if (unavailable) return
  sshd = await startSshd()
  proxy = await startFaultProxy({ target: { host: sshd.host, port: sshd.port } })
})
afterAll(async () => {
  await proxy?.close()
  await sshd?.stop()
})

function options(extra: SftpStorageOptions = {}): SftpStorageOptions {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostFingerprint: sshd.hostFingerprint,
    root: sshd.root,
    ...extra,
  }
}

/** A storage on a driver built here (a storage never closes a driver it was given: close() closes both). */
async function disk(
  extra: SftpStorageOptions = {},
): Promise<{ files: Storage; driver: SftpDisk; close(): Promise<void> }> {
  const driver = (await sftpDriver.create(options(extra), { variable: (s) => `BEAVER_STORAGE_${s}` })) as SftpDisk
  const files = createStorage({ driver, namespace: uniqueNamespace('sftp'), envPrefix: false })
  return {
    files,
    driver,
    async close() {
      await files.close()
      await driver.close()
    },
  }
}

describe.skipIf(unavailable)('the sftp driver against OpenSSH', () => {
  it('reuses one connection, and opens a new one after the network drops it', async () => {
    const { files, driver, close } = await disk({ port: proxy.port })
    await files.put('a.txt', 'first')
    await files.put('b.txt', 'second')
    expect(await files.getText('a.txt')).toBe('first')
    expect(driver.connection.connects).toBe(1)
    proxy.resetAll()
    // The next operations find the connection gone and reconnect, whether they notice it
    // before sending (closed socket) or while waiting for the answer (retried once).
    expect(await files.getText('b.txt')).toBe('second')
    expect(await files.exists('a.txt')).toBe(true)
    await files.put('c.txt', 'third')
    expect(driver.connection.connects).toBe(2)
    proxy.closeAll()
    const listed: string[] = []
    for await (const e of files.list()) listed.push(e.path)
    expect(listed).toEqual(['a.txt', 'b.txt', 'c.txt'])
    expect(driver.connection.connects).toBe(3)
    await close()
  })

  it('runs at most `concurrency` operations at once, open streams included', async () => {
    const { files, driver, close } = await disk({ concurrency: 2 })
    await Promise.all(Array.from({ length: 12 }, (_, i) => files.put(`f${i}.txt`, `body ${i}`)))
    const texts = await Promise.all(Array.from({ length: 12 }, (_, i) => files.getText(`f${i}.txt`)))
    expect(texts).toEqual(Array.from({ length: 12 }, (_, i) => `body ${i}`))
    expect(driver.connection.peakActive).toBe(2)
    expect(driver.connection.connects).toBe(1)
    await close()
  })

  it('refuses symlinks on the server that lead out of the root, and never writes through them', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'beaver-sftp-outside-'))
    await writeFile(join(outside, 'secret.txt'), 'top secret')
    const { files, driver, close } = await disk()
    await files.put('inside/a.txt', 'inside')
    const ns = files.describe().state.namespace as string
    await symlink(outside, join(sshd.root, ns, 'link'))
    await symlink(join(outside, 'secret.txt'), join(sshd.root, ns, 'file-link'))
    await symlink(join(sshd.root, ns, 'inside'), join(sshd.root, ns, 'alias'))
    const code = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => 'ok',
        (e: unknown) => (isStorageError(e) ? e.code : e),
      )
    expect(await code(files.get('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await code(files.stat('file-link'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await code(files.put('link/planted.txt', 'x'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await code(files.put('link/deep/er/planted.txt', 'x'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await code(files.delete('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await readdir(outside)).toEqual(['secret.txt'])
    expect(await files.getText('alias/a.txt')).toBe('inside')
    const listed: string[] = []
    for await (const e of files.list()) listed.push(e.path)
    expect(listed).toEqual(['inside/a.txt'])
    // The disk's own folder is out of reach (with a namespace it is not even addressable).
    await using bare = createStorage({ driver, envPrefix: false })
    expect(await code(bare.put('.beaver/tmp/x', 'x'))).toBe('STORAGE_PATH_INVALID')
    expect(await code(bare.get('.beaver'))).toBe('STORAGE_PATH_INVALID')
    await files.put('file-link', 'replaced, not followed')
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    await close()
    await rm(outside, { recursive: true, force: true })
  })

  it('writes through a temp file: a failed body leaves no temp file and the old bytes', async () => {
    const { files, close } = await disk()
    await files.put('keep.bin', 'old')
    const failing = new Readable({ read() {} })
    failing.push(Buffer.alloc(300_000, 1))
    setImmediate(() => failing.destroy(new Error('client went away')))
    await expect(files.put('keep.bin', failing)).rejects.toThrow('client went away')
    expect(await files.getText('keep.bin')).toBe('old')
    expect(await readdir(join(sshd.root, '.beaver', 'tmp'))).toEqual([])
    await close()
  })

  it('refuses a server whose host key is not the configured one, and says so', async () => {
    const { files, driver, close } = await disk({ hostFingerprint: `SHA256:${'A'.repeat(43)}` })
    const err = await files.ready().catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_DRIVER')).toBe(true)
    expect((err as Error).message).toMatch(/could not connect to 127\.0\.0\.1:\d+: .*verification failed/i)
    expect(driver.connection.connects).toBe(1)
    await close()
    const any = await disk({ hostFingerprint: undefined, acceptAnyHostKey: true })
    await any.files.ready()
    await any.close()
  })
})

describe('sftp settings', () => {
  it('names the missing variable, masks the key and password, and declares its peers', async () => {
    const bad = async (sftp: Record<string, unknown>): Promise<string> => {
      const st = createStorage({ driver: 'sftp', envPrefix: 'APP_', env: {}, sftp })
      const e = await st.ready().catch((x: unknown) => x)
      return (e as Error).message
    }
    expect(await bad({})).toContain('APP_STORAGE_SFTP_HOST')
    expect(await bad({ host: 'h' })).toContain('APP_STORAGE_SFTP_USERNAME')
    expect(await bad({ host: 'h', username: 'u' })).toContain('APP_STORAGE_SFTP_PRIVATE_KEY')
    expect(await bad({ host: 'h', username: 'u', password: 'pw-secret' })).toContain(
      'APP_STORAGE_SFTP_HOST_FINGERPRINT',
    )
    const described = JSON.stringify(
      createStorage({
        envPrefix: false,
        env: {},
        driver: 'sftp',
        sftp: { host: 'h', username: 'u', password: 'pw-secret', privateKey: 'KEY-secret', passphrase: 'pp-secret' },
      }).describe(),
    )
    expect(described).not.toMatch(/pw-secret|KEY-secret|pp-secret/)
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    for (const peer of [...(sftpDriver.peers ?? []), ...(zipDriver.peers ?? []), 'yazl']) {
      expect(pkg.peerDependencies[peer], peer).toBeDefined()
      expect(pkg.peerDependenciesMeta[peer]?.optional, peer).toBe(true)
    }
  })
})
