import { closeSync, constants, open, openSync, read, readlinkSync, write, writeSync } from 'node:fs'
import { promisify } from 'node:util'

// The local driver's descriptor-level file access. Each await on node:fs is a round trip through
// libuv's thread pool (tens of microseconds on a busy 2-core machine, more than the syscall), so
// the calls that do not wait on a disk run on the calling thread: fstat and close of a descriptor
// already open (a local file system neither reads nor flushes for them), readlink under
// /proc/self/fd (procfs answers from memory), and the creation and write of a small temp file
// (a copy into the page cache; the disk gets it later, as with any unsynced write). Opening, reading,
// writing and renaming, which may wait on the disk, stay in the pool.

/** open(2) through the thread pool, resolving to the descriptor. */
export const openFd = promisify(open) as (path: string, flags: number, mode?: number) => Promise<number>
const readFd = promisify(read)
const writeFd = promisify(write)

/** Read-only; non-blocking so a FIFO under the root cannot hold a thread; never a controlling terminal. */
export const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY
/** A new file only (a temp name that already exists is an error, never overwritten or followed). */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL
/** A folder, opened only to learn where it really is. */
export const FOLDER_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK

/**
 * Where an open descriptor really is (Linux): the kernel's path of the very file that was opened,
 * so a check on it has no window between checking a path and opening it. Undefined where
 * /proc/self/fd cannot answer.
 */
export function realPathOfFd(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

/**
 * Whether descriptors can be located through /proc on this system: the root folder opened and
 * read back must give the root's real path (false elsewhere, and where /proc is missing or masked).
 */
export async function descriptorPathsWork(realRoot: string): Promise<boolean> {
  if (process.platform !== 'linux') return false
  const fd = await openFd(realRoot, FOLDER_FLAGS)
  try {
    return realPathOfFd(fd) === realRoot
  } finally {
    closeSync(fd)
  }
}

/** Reads exactly `size` bytes from the start of a descriptor (fewer when the file shrank meanwhile). */
export async function readExactly(fd: number, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size)
  let at = 0
  while (at < size) {
    const { bytesRead } = await readFd(fd, bytes, at, size - at, at)
    if (bytesRead === 0) break
    at += bytesRead
  }
  return at === size ? bytes : bytes.subarray(0, at)
}

/**
 * Bodies up to this size are written on the calling thread: creating a file in the disk's own
 * temp folder and copying a few pages into the page cache, as a synchronous log line does. The
 * rename that commits the file, and every larger write, go through the pool.
 */
const SMALL_WRITE = 16 * 1024

/** Creates `path` (which must not exist) holding `bytes`: one open, the writes, and a close. */
export async function writeNewFile(path: string, bytes: Buffer): Promise<void> {
  const small = bytes.length <= SMALL_WRITE
  const fd = small ? openSync(path, CREATE_FLAGS, 0o666) : await openFd(path, CREATE_FLAGS, 0o666)
  try {
    let at = 0
    if (small) while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at)
    while (at < bytes.length) {
      const { bytesWritten } = await writeFd(fd, bytes, at, bytes.length - at)
      at += bytesWritten
    }
  } finally {
    closeSync(fd)
  }
}
