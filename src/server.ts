// Minimal bootstrap server: pg-gateway (trust auth) in front of the engine, one exec per client message.
// TEMPORARY scaffolding so that psql can reach the engine; src/wire replaces it (issue #2).
import net from 'node:net'
import { fromNodeSocket } from 'pg-gateway/node'
import { Engine } from './engine/client.js'
import { logger } from './log.js'

const log = logger('server')

export interface ServerOptions {
  host: string
  port: number
  dataDir: string
  pythonPath: string[]
  logLevel: string
}

export async function startServer(opts: ServerOptions): Promise<{ close(): Promise<void>; port: number }> {
  const engine = await Engine.start({
    dataDir: opts.dataDir,
    pythonPath: opts.pythonPath,
    maxDepth: 100,
    logLevel: opts.logLevel,
  })
  const db = await engine.openDatabase('postgres')
  log.info(db, db.initialized ? 'initialised a new data directory' : 'opened the data directory')
  let nextSid = 1
  let token = 1
  const server = net.createServer(async (socket) => {
    socket.setNoDelay(true)
    const sid = nextSid++
    let chunks: Uint8Array[] = []
    let opened = false
    try {
      await fromNodeSocket(socket, {
        serverVersion: '18.6',
        auth: { method: 'trust' },
        async onMessage(data, state) {
          if (!state.isAuthenticated) return undefined
          if (!opened) {
            await engine.openSession(sid, 'postgres', state.clientParams?.user ?? 'postgres', (d) =>
              chunks.push(d),
            )
            opened = true
          }
          if (data[0] === 0x58) return undefined // Terminate
          chunks = []
          const r = await engine.exec(sid, token++, data)
          const out = chunks
          chunks = []
          if (r.terminate) {
            // plpy.fatal: the output ends with the FATAL ErrorResponse; close like a dying backend
            for (const c of out) socket.write(c)
            socket.end()
            return undefined
          }
          return out
        },
      })
    } catch (e) {
      log.warn({ err: e }, 'connection failed')
    }
    socket.on('close', () => {
      if (opened) engine.closeSession(sid).catch(() => {})
    })
  })
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve))
  const port = (server.address() as net.AddressInfo).port
  log.info({ host: opts.host, port }, 'listening')
  return {
    port,
    async close() {
      server.close()
      await engine.close()
    },
  }
}
