import { describe, expect, it } from 'vitest'
import { BEAVER_ERROR, BeaverError, errorGuard, importPeer, isBeaverError, isCoreError } from '@beaver-kit/core'

type CacheCode = 'CACHE_TIMEOUT' | 'CACHE_CLOSED'
class CacheError extends BeaverError<CacheCode> {}
const isCacheError = errorGuard<CacheCode, CacheError>('CACHE_')

describe('BeaverError', () => {
  it('carries code, details, cause and its class name', () => {
    const cause = new Error('socket hang up')
    const err = new CacheError('CACHE_TIMEOUT', 'get timed out after 50 ms', { cause, details: { key: 'k' } })
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('CacheError')
    expect(err.code).toBe('CACHE_TIMEOUT')
    expect(err.details).toEqual({ key: 'k' })
    expect(Object.isFrozen(err.details)).toBe(true)
    expect(err.cause).toBe(cause)
    expect(err.toJSON()).toMatchObject({ code: 'CACHE_TIMEOUT', name: 'CacheError' })
  })

  it('guards by brand, so an error from another copy of the package still matches', () => {
    // An object built by a "different copy": same brand symbol (Symbol.for), different class.
    const foreign = Object.assign(new Error('x'), { code: 'CACHE_CLOSED' })
    Object.defineProperty(foreign, BEAVER_ERROR, { value: true })
    expect(isCacheError(foreign)).toBe(true)
    expect(isCacheError(foreign, 'CACHE_CLOSED')).toBe(true)
    expect(isCacheError(foreign, 'CACHE_TIMEOUT')).toBe(false)
    expect(isBeaverError(foreign)).toBe(true)
  })

  it('rejects look-alikes without the brand and other packages codes', () => {
    expect(isBeaverError(Object.assign(new Error('x'), { code: 'CACHE_CLOSED' }))).toBe(false)
    expect(isBeaverError(null)).toBe(false)
    expect(isBeaverError('CACHE_CLOSED')).toBe(false)
    expect(isCacheError(new BeaverError('DB_TIMEOUT', 'x'))).toBe(false)
  })
})

describe('importPeer', () => {
  it('returns the module when it is installed', async () => {
    const mod = await importPeer('node:os', () => import('node:os'), 'a test')
    expect(typeof mod.hostname).toBe('function')
  })

  it('names the package to install when the peer is missing', async () => {
    const load = () => import('beaver-kit-no-such-peer' as string)
    const err: unknown = await importPeer('beaver-kit-no-such-peer', load, 'the imaginary driver').catch(
      (e: unknown) => e,
    )
    expect(isCoreError(err, 'CORE_PEER_MISSING')).toBe(true)
    expect((err as Error).message).toBe(
      'The imaginary driver needs the optional package "beaver-kit-no-such-peer", which is not installed. Install it: npm install beaver-kit-no-such-peer',
    )
  })

  it('does not disguise other failures as a missing peer', async () => {
    const boom = new Error('syntax error in module')
    await expect(importPeer('x', () => Promise.reject(boom), 'y')).rejects.toBe(boom)
  })
})

describe('isNetworkErrorCode', () => {
  it('recognises Node socket and DNS failures, nothing else', async () => {
    const { isNetworkErrorCode } = await import('@beaver-kit/core')
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']) {
      expect(isNetworkErrorCode(code)).toBe(true)
    }
    for (const code of ['ENOENT', 'EACCES', '23505', undefined, 42]) expect(isNetworkErrorCode(code)).toBe(false)
  })
})
