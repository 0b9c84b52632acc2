import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob'
import { AZURITE_ACCOUNT, startAzurite, type LocalAzurite } from '@beaver-kit/testkit/azurite'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createStorage, isStorageError } from '@beaver-kit/storage'
import { azureDriver } from '@beaver-kit/storage/azure'

const MiB = 1024 * 1024
const container = 'beaver-blocks'
let azurite: LocalAzurite
let raw: ContainerClient
beforeAll(async () => {
  azurite = await startAzurite()
  raw = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container)
  await raw.create()
}, 30_000)
afterAll(() => azurite?.stop())

function disk(namespace: string, azure: Record<string, unknown> = {}) {
  return createStorage({
    driver: 'azure',
    namespace,
    envPrefix: false,
    azure: { container, connectionString: azurite.connectionString, blockSize: MiB, concurrency: 2, ...azure },
  })
}

describe('azure block uploads', () => {
  it('stages blocks and commits them with every attribute: the raw blob has them and 4 committed blocks', async () => {
    const ns = uniqueNamespace('az')
    await using files = disk(ns)
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 7; i++) yield Buffer.alloc(MiB / 2, i)
      })(),
    )
    const result = await files.put('video.bin', body, {
      contentType: 'video/mp4',
      cacheControl: 'max-age=600',
      contentDisposition: 'attachment',
      metadata: { owner: 'u-42', 'trace-id': 't' },
    })
    expect(result).toMatchObject({ multipart: true, size: 3.5 * MiB })
    const blob = raw.getBlockBlobClient(`${ns}/video.bin`)
    const blocks = await blob.getBlockList('committed')
    expect(blocks.committedBlocks?.map((b) => b.size)).toEqual([MiB, MiB, MiB, MiB / 2])
    expect(await blob.getProperties()).toMatchObject({
      contentType: 'video/mp4',
      cacheControl: 'max-age=600',
      contentDisposition: 'attachment',
      metadata: { m_owner: 'u-42', m_trace_id: 't', beaver_visibility: 'private' },
      contentLength: 3.5 * MiB,
    })
  })

  it('commits nothing when the body fails after blocks were staged', async () => {
    const ns = uniqueNamespace('az')
    await using files = disk(ns)
    let i = 0
    const body = new Readable({
      read() {
        if (i++ < 5) this.push(Buffer.alloc(MiB, 1))
        else this.destroy(new Error('the client went away'))
      },
    })
    const err = await files.put('broken.bin', body).catch((e: unknown) => e)
    expect((err as Error).message).toContain('the client went away')
    expect(await files.exists('broken.bin')).toBe(false)
    const names: string[] = []
    for await (const b of raw.listBlobsFlat({ prefix: ns })) names.push(b.name)
    expect(names).toEqual([])
  })

  it('reads settings by name: account name and key with an endpoint, and says which variable is missing', async () => {
    const ns = uniqueNamespace('az')
    await using files = disk(ns, {
      connectionString: undefined,
      accountName: AZURITE_ACCOUNT.name,
      accountKey: AZURITE_ACCOUNT.key,
      endpoint: azurite.blobEndpoint,
    })
    await files.ready()
    await files.put('k.txt', 'key')
    expect(await files.getText('k.txt')).toBe('key')
    const bad = async (azure: Record<string, unknown>): Promise<unknown> =>
      createStorage({ driver: 'azure', envPrefix: 'APP_', env: {}, azure })
        .ready()
        .catch((x: unknown) => x)
    const message = async (azure: Record<string, unknown>): Promise<string> => ((await bad(azure)) as Error).message
    expect(isStorageError(await bad({}), 'STORAGE_OPTIONS_INVALID')).toBe(true)
    expect(await message({})).toContain('APP_STORAGE_AZURE_CONTAINER')
    expect(await message({ container })).toContain('APP_STORAGE_AZURE_CONNECTION_STRING')
    expect(await message({ container, accountName: 'acct' })).toContain('APP_STORAGE_AZURE_ACCOUNT_KEY')
    const described = JSON.stringify(
      createStorage({
        driver: 'azure',
        envPrefix: false,
        azure: { container, accountName: 'a', accountKey: 'very-secret-key', connectionString: 'AccountKey=hidden' },
      }).describe(),
    )
    expect(described).not.toContain('very-secret-key')
    expect(described).not.toContain('hidden')
  })

  it('reuses a client it is given, and refuses SAS URLs when that client holds no account key', async () => {
    const anonymous = new BlobServiceClient(azurite.blobEndpoint)
    await using files = createStorage({ driver: 'azure', envPrefix: false, client: anonymous, azure: { container } })
    const err = await files.signedUrl('x.txt').catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_UNSUPPORTED')).toBe(true)
    expect(azureDriver.peers).toEqual(['@azure/storage-blob'])
  })
})
