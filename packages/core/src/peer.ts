import { CoreError } from './errors.ts'

/**
 * Loads an optional peer dependency. The caller passes its own `import()` so that the
 * module is resolved from the calling package, not from core; a missing module becomes a
 * `CORE_PEER_MISSING` error that names the package to install and what needs it.
 * @example const { Redis } = await importPeer('ioredis', () => import('ioredis'), 'the redis cache driver')
 */
export async function importPeer<M>(name: string, load: () => Promise<M>, neededBy: string): Promise<M> {
  try {
    return await load()
  } catch (err) {
    if (isModuleMissing(err, name)) {
      throw new CoreError(
        'CORE_PEER_MISSING',
        `${neededBy.charAt(0).toUpperCase()}${neededBy.slice(1)} needs the optional package "${name}", which is not installed. Install it: npm install ${name}`,
        { cause: err, details: { package: name, neededBy } },
      )
    }
    throw err
  }
}

function isModuleMissing(err: unknown, name: string): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown; message?: unknown }
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false
  // Only the peer itself missing counts; a broken transitive import must surface as it is.
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`"${name}"`))
}
