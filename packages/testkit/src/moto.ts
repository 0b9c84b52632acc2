// moto's S3 server (Python, `moto_server`), for the S3 calls s3rver does not implement:
// ListParts, ListMultipartUploads and AbortMultipartUpload (resumable uploads and their cleanup).
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { isCI } from './services.ts'
import { eventually } from './eventually.ts'

/** A running moto S3 server and a bucket on it. */
export interface MotoS3 {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  bucket: string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * Starts `moto_server` on a spare port with one bucket, or answers undefined (after printing
 * why) when it is not installed; with CI=true a missing moto_server throws.
 * @example const moto = await startMotoS3('uploads'); describe.runIf(moto)(...)
 */
export async function startMotoS3(bucket = 'beaver-test'): Promise<MotoS3 | undefined> {
  const port = await freePort()
  let child: ChildProcess
  try {
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
  } catch (err) {
    const message = `moto_server could not start (${(err as Error).message}); install it with \`pip install "moto[server]"\`.`
    if (isCI()) throw new Error(`CI=true and a required service is missing: ${message}`, { cause: err })
    console.warn(`[testkit] skipping moto tests: ${message}`)
    return undefined
  }
  const endpoint = `http://127.0.0.1:${port}`
  await eventually(
    async () => (await fetch(`${endpoint}/${bucket}`, { method: 'PUT' }).catch(() => undefined))?.ok ?? false,
    { timeoutMs: 30_000 },
  )
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' },
    bucket,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
