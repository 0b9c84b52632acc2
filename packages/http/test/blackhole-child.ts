// Listens with a backlog of 1, reports the port, then blocks its event loop so nothing is accepted.
import net from 'node:net'
import type { AddressInfo } from 'node:net'

const server = net.createServer()
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.send?.((server.address() as AddressInfo).port, () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  })
})
