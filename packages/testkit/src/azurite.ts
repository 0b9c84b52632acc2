// Azurite's blob service (Microsoft's Azure Storage emulator), started as a child process on an
// ephemeral loopback port with in-memory persistence, for the storage package's azure driver.
// Azurite is a devDependency of @beaver-kit/storage; it is resolved here only when started.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'

/** The emulator's well-known development account (published in Azurite's README). */
export const AZURITE_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
} as const

/** A running Azurite blob service: its blob endpoint, a connection string for it, and stop. */
export interface LocalAzurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  blobEndpoint: string
  connectionString: string
  stop(): Promise<void>
}

/**
 * Starts Azurite's blob service on a port the OS picks (it prints the address it listens on),
 * in memory, with `--loose` and `--skipApiVersionCheck` so the newest SDK's API version is accepted.
 */
export async function startAzurite(): Promise<LocalAzurite> {
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js')
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--loose',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const output: string[] = []
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()))
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`azurite exited (${String(code)}) before listening: ${output.join('')}`)
  })
  const listening = (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      output.push(line)
      const match = /successfully listens on (http:\/\/\S+)/.exec(line)
      if (match) return match[1]!
    }
    throw new Error(`azurite closed its output before listening: ${output.join('\n')}`)
  })()
  const base = await Promise.race([listening, exited])
  exited.catch(() => undefined)
  const blobEndpoint = `${base}/${AZURITE_ACCOUNT.name}`
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.name};AccountKey=${AZURITE_ACCOUNT.key};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      if (child.exitCode !== null) return
      const gone = once(child, 'exit')
      child.kill('SIGTERM')
      await gone
    },
  }
}
