// @electric-sql/pglite-socket 0.2.17 (the PGlite project's own socket server) over the same PGlite 0.5.16,
// for comparison: a child process with a fresh on-disk data directory. Run as a script it is the server
// (prints "port N" once listening); imported, startPgliteSocket() starts one and returns { url, pid, stop() }.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SELF = fileURLToPath(import.meta.url)

export async function startPgliteSocket(maxConnections = 16) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-socket-bench-'))
  const proc = spawn(process.execPath, [SELF, dir, String(maxConnections)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pglite-socket did not start:\n${out}`)), 120_000)
    const onData = (d) => {
      out += d
      const m = /port (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('exit', (code) => reject(new Error(`pglite-socket exited (${code}):\n${out}`)))
  })
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    pid: proc.pid,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGTERM')
      await exited
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

if (process.argv[1] === SELF) {
  const [dir, max] = process.argv.slice(2)
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  const db = await PGlite.create(dir)
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: Number(max) })
  await server.start()
  const conn = server.getServerConn()
  process.stdout.write(`port ${conn.slice(conn.lastIndexOf(':') + 1)}\n`)
  process.on('SIGTERM', async () => {
    await server.stop()
    await db.close()
    process.exit(0)
  })
}
