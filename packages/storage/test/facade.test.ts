import { describe, expect, it } from 'vitest'
import {
  createStorage,
  isStorageError,
  registerStorageDriver,
  storageDriverNames,
  type StorageDriver,
} from '@beaver-kit/storage'
import { memoryDriver, MemoryDisk } from '@beaver-kit/storage/memory'

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string }> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a failure')
}

describe('the storage facade', () => {
  it('names the variable and the known drivers for an unknown driver', async () => {
    const err = await errorOf(() => createStorage({ env: { BEAVER_STORAGE_DRIVER: 's4' } }))
    expect(err.code).toBe('STORAGE_DRIVER_UNKNOWN')
    expect(err.message).toContain('BEAVER_STORAGE_DRIVER is "s4"')
    expect(err.message).toContain('did you mean "s3"')
  })

  it('takes a driver you built, and drivers you register', async () => {
    const mine: StorageDriver = new MemoryDisk()
    await using a = createStorage({ driver: mine, envPrefix: false })
    await a.put('x', 'y')
    expect(await mine.stat('x')).toMatchObject({ size: 1 })
    registerStorageDriver('scratch', memoryDriver)
    expect(storageDriverNames()).toContain('scratch')
    await using b = createStorage({ driver: 'scratch', envPrefix: false })
    await b.put('k', 'v')
    expect(b.driver).toBe('memory')
  })

  it('says which variables kit-signed URLs need, and what url() needs', async () => {
    await using s = createStorage({ driver: 'memory', envPrefix: false })
    await s.put('a.txt', 'a')
    const err = await errorOf(s.signedUrl('a.txt'))
    expect(err.code).toBe('STORAGE_UNSUPPORTED')
    expect(err.message).toContain('BEAVER_STORAGE_SIGNING_KEY')
    expect((await errorOf(() => s.url('a.txt'))).message).toContain('BEAVER_STORAGE_PUBLIC_URL')
    await using p = createStorage({
      driver: 'memory',
      envPrefix: false,
      publicUrl: 'https://cdn.example.com/files',
      namespace: 'n',
    })
    expect(p.url('dir/é x.png')).toBe('https://cdn.example.com/files/n/dir/%C3%A9%20x.png')
  })

  it('serves kit-signed URLs only under their base, and 404s unknown files', async () => {
    const signing = { key: 's'.repeat(32), baseUrl: 'https://app.test/files' }
    await using s = createStorage({ driver: 'memory', envPrefix: false, signing })
    const url = await s.signedUrl('gone.txt')
    expect((await s.handleSignedRequest(new Request(url))).status).toBe(404)
    expect((await s.handleSignedRequest(new Request(url, { method: 'DELETE' }))).status).toBe(405)
    expect(
      (await s.handleSignedRequest(new Request('https://app.test/other/gone.txt?expires=1&signature=x'))).status,
    ).toBe(403)
    await s.put('h.txt', 'head', { cacheControl: 'no-cache' })
    const head = await s.handleSignedRequest(new Request(await s.signedUrl('h.txt'), { method: 'HEAD' }))
    expect(head.headers.get('cache-control')).toBe('no-cache')
    expect(head.headers.get('content-length')).toBe('4')
    const up = await s.signedUrl('u.txt', { method: 'PUT', contentType: 'text/plain' })
    const wrongType = await s.handleSignedRequest(
      new Request(up, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/html' } }),
    )
    expect(wrongType.status).toBe(403)
  })

  it('checks metadata so every driver can store it, and bounds get() by maxReadSize', async () => {
    await using s = createStorage({ driver: 'memory', envPrefix: false, maxReadSize: 10 })
    expect((await errorOf(s.put('a', 'x', { metadata: { 'Bad Name': 'v' } }))).code).toBe('STORAGE_OPTIONS_INVALID')
    expect((await errorOf(s.put('a', 'x', { metadata: { ok: 'línea' } }))).code).toBe('STORAGE_OPTIONS_INVALID')
    expect((await errorOf(s.put('a', 'x', { cacheControl: 'a\r\nx: y' }))).code).toBe('STORAGE_OPTIONS_INVALID')
    expect((await errorOf(s.put('a', 'x', { metadata: { big: 'v'.repeat(3000) } }))).code).toBe(
      'STORAGE_OPTIONS_INVALID',
    )
    expect((await errorOf(s.put('a', 42 as unknown as string))).code).toBe('STORAGE_BODY_INVALID')
    expect((await errorOf(s.put('a', 'x', { checksum: { algorithm: 'sha256', value: 'nope' } }))).code).toBe(
      'STORAGE_OPTIONS_INVALID',
    )
    await s.put('big', 'x'.repeat(11))
    expect((await errorOf(s.get('big'))).code).toBe('STORAGE_TOO_LARGE')
    expect((await s.getStream('big')).readable).toBe(true)
    await s.put('bad.json', '{')
    expect((await errorOf(s.getJson('bad.json'))).code).toBe('STORAGE_DRIVER')
  })

  it('reports progress, counts the memory bound, and refuses use after close', async () => {
    const s = createStorage({ driver: 'memory', envPrefix: false, memory: { maxBytes: 100 } })
    const seen: number[] = []
    await s.put('p', 'x'.repeat(60), { onProgress: (n) => seen.push(n) })
    expect(seen.at(-1)).toBe(60)
    expect((await errorOf(s.put('q', 'y'.repeat(60)))).code).toBe('STORAGE_TOO_LARGE')
    await s.delete('p')
    await s.put('q', 'y'.repeat(60))
    await s.close()
    await s.close()
    const err = await errorOf(s.get('q'))
    expect(isStorageError(err, 'STORAGE_CLOSED')).toBe(true)
  })
})
