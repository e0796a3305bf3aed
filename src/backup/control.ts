// The running server's control socket, through which `pyglite backup` asks for a live backup. A Unix
// socket in a private directory (mode 0700) whose path and a random token are recorded in the data directory's lock file (mode
// 0600 in a 0700 directory): whoever can read the lock file may ask, as whoever can read the data files
// could copy them anyway. One JSON line each way.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { DataDirLock, LockInfo } from '../util/datadir.js'
import { logger } from '../util/log.js'

const log = logger('control')

export interface BackupDone {
  files: number
  bytes: number
  ms: number
}

export interface ControlRequest {
  token: string
  op: 'backup'
  dest: string
}

export type ControlReply = { ok: true; result: BackupDone } | { ok: false; error: string }

export interface Control {
  close(): void
}

/** Listen for control requests; `backup(dest)` runs a live backup (on the engine thread). */
export async function startControl(
  lock: DataDirLock,
  backup: (dest: string) => Promise<BackupDone>,
): Promise<Control> {
  const token = randomBytes(24).toString('hex')
  // Only the owner may reach the socket: it lives in a directory of its own, made 0700 (mkdtemp), as
  // PostgreSQL's unix_socket_directories can restrict access. Not by setting the umask around listen():
  // the umask is the whole process's, and the engine thread creates directories meanwhile (a placeholder's
  // CREATE DATABASE, a spare cluster): with umask 0177 they came out 0600, which PostgreSQL (through
  // NODEFS's permission checks) cannot read, so the next start failed ("could not read directory").
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pyglite-${process.pid}-`))
  const sock = path.join(dir, 'control.sock')
  const server = net.createServer((s) => {
    let buf = ''
    s.setEncoding('utf8')
    s.on('error', () => {})
    s.on('data', (d: string) => {
      buf += d
      if (buf.length > 65536) return s.destroy()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const reply = (r: ControlReply) => s.end(`${JSON.stringify(r)}\n`)
      let req: ControlRequest
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest
      } catch {
        return reply({ ok: false, error: 'malformed request' })
      }
      const given = Buffer.from(String(req.token ?? ''))
      const mine = Buffer.from(token)
      if (given.length !== mine.length || !timingSafeEqual(given, mine))
        return reply({ ok: false, error: 'not authorised (wrong token)' })
      if (req.op !== 'backup' || typeof req.dest !== 'string' || !path.isAbsolute(req.dest))
        return reply({ ok: false, error: 'unknown request' })
      log.info({ dest: req.dest }, 'live backup requested')
      backup(req.dest).then(
        (result) => {
          log.info({ dest: req.dest, ...result }, 'live backup written')
          reply({ ok: true, result })
        },
        (e: Error) => {
          log.error({ dest: req.dest, err: e.message }, 'live backup failed')
          reply({ ok: false, error: e.message })
        },
      )
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(sock, () => resolve())
  })
  lock.update({ control: sock, token })
  return {
    close() {
      server.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Ask the server holding `holder`'s lock for a live backup into `dest`. */
export function requestBackup(holder: Partial<LockInfo>, dest: string): Promise<BackupDone> {
  return new Promise((resolve, reject) => {
    if (!holder.control || !holder.token) return reject(new Error('the running server has no control socket'))
    const s = net.connect(holder.control)
    let buf = ''
    s.setEncoding('utf8')
    s.on('connect', () => s.write(`${JSON.stringify({ token: holder.token, op: 'backup', dest })}\n`))
    s.on('data', (d: string) => (buf += d))
    s.on('error', (e) => reject(new Error(`cannot reach the running server's control socket: ${e.message}`)))
    s.on('end', () => {
      try {
        const r = JSON.parse(buf) as ControlReply
        if (r.ok) resolve(r.result)
        else reject(new Error(r.error))
      } catch {
        reject(new Error('the running server closed the control socket without an answer'))
      }
    })
  })
}
