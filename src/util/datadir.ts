// The data directory's interlock: one pyglite process (a server, or a backup/restore command) at a time.
// PGlite writes postmaster.pid with process id -42, so PostgreSQL's own check (miscinit.c CreateLockFile)
// never refuses a second server; two engines on one cluster would corrupt it. We hold flock(2) on
// <dataDir>/pyglite.lock for the life of the process (native/guards/fsutil.c): the kernel releases it when the
// process dies, however it dies, so a lock left by a killed server is recognised as stale without guessing
// from process ids (which get reused), and two starters can never both take it.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pkgPath } from './paths.js'

const require = createRequire(import.meta.url)

export const LOCK_FILE = 'pyglite.lock'

interface FsUtil {
  tryLock(fd: number): boolean
  unlock(fd: number): void
}

let fsutil: FsUtil | undefined
function native(): FsUtil {
  fsutil ??= require(pkgPath('build', 'Release', 'pyglite_fsutil.node')) as FsUtil
  return fsutil
}

/** What the holder writes into the lock file (read by whoever is refused, for its message). */
export interface LockInfo {
  pid: number
  /** 'server', 'backup', 'restore' */
  role: string
  startedAt: string
  host?: string
  port?: number
  /** the server's control socket (backup requests), relative to the data directory */
  control?: string
  /** what a control request must present (the lock file is readable by the data directory's owner only) */
  token?: string
}

export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: Partial<LockInfo> | null,
  ) {
    super(`data directory "${dataDir}" is in use by ${describe(holder)}`)
    this.name = 'DataDirInUse'
  }
}

function describe(h: Partial<LockInfo> | null): string {
  if (!h?.pid) return 'another pyglite process'
  const what = h.role === 'server' || !h.role ? 'a pyglite server' : `a pyglite ${h.role} command`
  const where = h.port ? `, listening on ${h.host ?? '?'}:${h.port}` : ''
  return `${what} (process ${h.pid}${where}, started ${h.startedAt ?? '?'}); stop it first`
}

function readInfo(fd: number): Partial<LockInfo> | null {
  const size = fs.fstatSync(fd).size
  if (size === 0) return null
  const buf = Buffer.alloc(Math.min(size, 4096))
  fs.readSync(fd, buf, 0, buf.length, 0)
  try {
    return JSON.parse(buf.toString('utf8')) as Partial<LockInfo>
  } catch {
    return { pid: 0 }
  }
}

export class DataDirLock {
  private constructor(
    readonly dataDir: string,
    private fd: number,
    private info: LockInfo,
    /** the previous holder, if it died without releasing (kill -9, power loss): its recorded details */
    readonly stale: Partial<LockInfo> | null,
  ) {}

  /**
   * Take the lock of `dataDir` (created if missing, mode 0700), or throw DataDirInUse. A lock file with
   * contents but no holder was left by a process that died: it is taken over (`stale` says whose it was).
   */
  static acquire(dataDir: string, role: string): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const file = path.join(dataDir, LOCK_FILE)
    // never truncated or unlinked before we hold it: a racing starter must find the same inode locked
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600)
    try {
      if (!native().tryLock(fd)) throw new DataDirInUse(dataDir, readInfo(fd))
      const stale = readInfo(fd)
      const info: LockInfo = { pid: process.pid, role, startedAt: new Date().toISOString() }
      const lock = new DataDirLock(dataDir, fd, info, stale)
      lock.write()
      return lock
    } catch (e) {
      fs.closeSync(fd)
      throw e
    }
  }

  /**
   * Add details for others' messages (the port once listening, the control socket). Not flushed: they
   * describe the running process to other processes (the page cache serves them) and mean nothing after a
   * crash, while the record that a server holds the directory was flushed by acquire. Two fsyncs here sat on
   * the start-up path before the first connection (0.1–0.3 s on a busy machine).
   */
  update(more: Partial<LockInfo>): void {
    this.info = { ...this.info, ...more }
    this.write(false)
  }

  private write(flush = true): void {
    const data = Buffer.from(`${JSON.stringify(this.info)}\n`)
    fs.ftruncateSync(this.fd, 0)
    fs.writeSync(this.fd, data, 0, data.length, 0)
    if (flush) fs.fsyncSync(this.fd)
  }

  /**
   * Release: the file is emptied (an empty lock file means the last holder ended cleanly) but not
   * removed — removing it would let a starter lock a new inode while another still waits on the old one.
   * `keep`: a record to leave instead (a backup of a crashed server's directory leaves the crash on record).
   */
  release(keep?: Partial<LockInfo> | null): void {
    if (this.fd < 0) return
    try {
      fs.ftruncateSync(this.fd, 0)
      if (keep) fs.writeSync(this.fd, `${JSON.stringify(keep)}\n`, 0)
      fs.fsyncSync(this.fd)
    } finally {
      fs.closeSync(this.fd)
      this.fd = -1
    }
  }
}
