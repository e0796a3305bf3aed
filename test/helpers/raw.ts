// A minimal raw protocol client for tests that need to see or send exact bytes (malformed messages,
// ParameterStatus, BackendKeyData, CancelRequest, slow readers). Not a driver: no auth beyond trust.
import net from 'node:net'

export interface Msg {
  type: string
  body: Buffer
}

export function startupPacket(params: Record<string, string>, version = 196608): Buffer {
  const parts: Buffer[] = []
  for (const [k, v] of Object.entries(params)) parts.push(Buffer.from(`${k}\0${v}\0`))
  parts.push(Buffer.from([0]))
  const body = Buffer.concat(parts)
  const b = Buffer.alloc(8 + body.length)
  b.writeInt32BE(b.length, 0)
  b.writeInt32BE(version, 4)
  body.copy(b, 8)
  return b
}

export function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body
  const b = Buffer.alloc(5 + payload.length)
  b.write(type, 0, 'latin1')
  b.writeInt32BE(4 + payload.length, 1)
  payload.copy(b, 5)
  return b
}

export const query = (sql: string) => message('Q', `${sql}\0`)

/** Error/notice fields by letter. */
export function fields(body: Buffer): Record<string, string> {
  const f: Record<string, string> = {}
  let i = 0
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1)
    f[String.fromCharCode(body[i]!)] = body.subarray(i + 1, end).toString('utf8')
    i = end + 1
  }
  return f
}

export class RawClient {
  readonly sock: net.Socket
  private buf = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  closed = false
  /** total bytes received */
  received = 0

  private constructor(sock: net.Socket) {
    this.sock = sock
    sock.on('data', (d: Buffer) => {
      this.received += d.length
      this.buf = Buffer.concat([this.buf, d])
      this.wake()
    })
    sock.on('close', () => {
      this.closed = true
      this.wake()
    })
    sock.on('error', () => {})
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  /** Connect and complete a trust start-up; returns the messages up to the first ReadyForQuery. */
  static async login(
    port: number,
    params: Record<string, string> = {},
  ): Promise<{ c: RawClient; startup: Msg[] }> {
    const c = await RawClient.connect(port)
    c.write(startupPacket({ user: 'postgres', database: 'postgres', ...params }))
    const startup = await c.until('Z')
    return { c, startup }
  }

  write(b: Buffer): void {
    this.sock.write(b)
  }

  private async more(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error('connection closed')
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for the server')), timeoutMs)
      this.waiters.push(() => {
        clearTimeout(t)
        resolve()
      })
    })
  }

  /** Raw bytes (the start-up phase answers 'S'/'N' single bytes). */
  async bytes(n: number, timeoutMs = 20_000): Promise<Buffer> {
    while (this.buf.length < n) await this.more(timeoutMs)
    const b = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return b
  }

  /** The next backend message, or null when the server closed the connection. */
  async next(timeoutMs = 20_000): Promise<Msg | null> {
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1)
        if (this.buf.length >= 1 + len) {
          const m = { type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, 1 + len) }
          this.buf = this.buf.subarray(1 + len)
          return m
        }
      }
      if (this.closed) return null
      await this.more(timeoutMs)
    }
  }

  /** Messages up to and including the first of type `type` (throws if the connection ends first). */
  async until(type: string, timeoutMs = 20_000): Promise<Msg[]> {
    const out: Msg[] = []
    for (;;) {
      const m = await this.next(timeoutMs)
      if (!m) throw new Error(`connection closed before '${type}'; got ${out.map((x) => x.type).join('')}`)
      out.push(m)
      if (m.type === type) return out
    }
  }

  /** Run a simple query; returns all messages up to ReadyForQuery. */
  async query(sql: string): Promise<Msg[]> {
    this.write(query(sql))
    return this.until('Z')
  }

  /** Wait for the server to close the connection; returns the messages it sent meanwhile. */
  async closedByServer(timeoutMs = 20_000): Promise<Msg[]> {
    const out: Msg[] = []
    for (;;) {
      const m = await this.next(timeoutMs)
      if (!m) return out
      out.push(m)
    }
  }

  end(): void {
    this.sock.end()
  }
}

/** The text values of the DataRow messages among `msgs`. */
export function rows(msgs: Msg[]): Array<Array<string | null>> {
  return msgs
    .filter((m) => m.type === 'D')
    .map((m) => {
      const n = m.body.readInt16BE(0)
      const out: Array<string | null> = []
      let o = 2
      for (let i = 0; i < n; i++) {
        const len = m.body.readInt32BE(o)
        o += 4
        if (len < 0) out.push(null)
        else {
          out.push(m.body.subarray(o, o + len).toString('utf8'))
          o += len
        }
      }
      return out
    })
}

/** ParameterStatus messages as a map. */
export function parameters(msgs: Msg[]): Map<string, string> {
  const p = new Map<string, string>()
  for (const m of msgs.filter((x) => x.type === 'S')) {
    const [k, v] = m.body.toString('utf8').split('\0')
    p.set(k!, v!)
  }
  return p
}
