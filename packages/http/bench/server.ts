// The benchmark's servers, in their own process: "fast" answers a 2-byte body at once;
// "slow" waits 1 ms and sends 64 KiB (undici's own benchmark settings).
import http from 'node:http'
import type { AddressInfo } from 'node:net'

const big = Buffer.alloc(64 * 1024, 'a')

function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}

const fast = await listen((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
  res.end('ok')
})
const slow = await listen((_req, res) => {
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.length) })
    res.end(big)
  }, 1)
})
process.send?.({ fast, slow })
process.on('disconnect', () => process.exit(0))
