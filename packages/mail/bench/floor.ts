// The physical-limit baseline (R_limit) of the SMTP case: a raw `net` client replaying a
// pre-rendered transaction over N sockets, EHLO once per socket, then per message MAIL, RCPT
// and DATA pipelined (RFC 2920) and the pre-built body: no MIME building, no parsing, no checks.
import net from 'node:net'

interface Conn {
  socket: net.Socket
  buffer: string
  waiters: Array<{ lines: number; resolve: () => void; seen: number }>
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const conn: Conn = { socket, buffer: '', waiters: [] }
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      conn.buffer += chunk.toString('latin1')
      let i: number
      while ((i = conn.buffer.indexOf('\r\n')) >= 0) {
        const line = conn.buffer.slice(0, i)
        conn.buffer = conn.buffer.slice(i + 2)
        // Multi-line replies ("250-...") end with a "250 " line.
        if (line[3] === '-') continue
        const w = conn.waiters[0]
        if (w && ++w.seen >= w.lines) {
          conn.waiters.shift()
          w.resolve()
        }
      }
    })
    socket.once('error', reject)
    const replies = (lines: number) => new Promise<void>((r) => conn.waiters.push({ lines, resolve: r, seen: 0 }))
    void replies(1)
      .then(() => {
        socket.write('EHLO bench.local\r\n')
        return replies(1)
      })
      .then(() => resolve(conn))
  })
}

function replies(conn: Conn, lines: number): Promise<void> {
  return new Promise((resolve) => conn.waiters.push({ lines, resolve, seen: 0 }))
}

/** Sends `count` copies of `body` (a full RFC 5322 message) over `sockets` connections; resolves the per-message latencies. */
export async function rawSmtp(port: number, sockets: number, count: number, body: string): Promise<number[]> {
  const conns = await Promise.all(Array.from({ length: sockets }, () => connect(port)))
  const data = `${body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`
  const latencies: number[] = []
  let next = 0
  await Promise.all(
    conns.map(async (conn) => {
      while (next < count) {
        next++
        const t0 = performance.now()
        conn.socket.write('MAIL FROM:<app@example.com>\r\nRCPT TO:<ada@example.com>\r\nDATA\r\n')
        await replies(conn, 3)
        conn.socket.write(data)
        await replies(conn, 1)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  for (const c of conns) {
    c.socket.write('QUIT\r\n')
    c.socket.end()
  }
  return latencies
}
