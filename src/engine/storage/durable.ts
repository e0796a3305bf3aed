// Durability of PGlite's files on a Node filesystem: a real fsync for Emscripten's NODEFS, the WAL sync
// method that reaches it, a one-time sync of a freshly initialised cluster, and one syncfs(2) instead of an
// fsync of every file when PostgreSQL starts after a crash. Measured facts behind this
// (docs/durability.md has the details):
// - NODEFS writes with fs.writeSync, so data is in the OS page cache when write() returns: it survives a
//   kill of the process, not an OS crash or power loss, unless someone calls fsync.
// - Emscripten's fsync() reaches `stream_ops.fsync` (libc fd_sync), which NODEFS does not define: a no-op.
// - Emscripten's fdatasync() returns 0 without calling into the filesystem at all, and fdatasync is
//   PostgreSQL's default wal_sync_method on Linux (xlog.c issue_xlog_fsync), so commits were never flushed.
//   wal_sync_method=fsync sends each commit's WAL flush through fsync() and so to our stream_ops.fsync.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { Extension } from '@electric-sql/pglite'
import { syncPath } from '../../util/fsync.js'
import { logger } from '../../util/log.js'
import { pkgPath } from '../../util/paths.js'
import type { PgModule } from '../pg/heap.js'

const require = createRequire(import.meta.url)

/** Start parameters that make commits durable; `fsync=off` skips every flush (PostgreSQL's own switch). */
export function durabilityParams(fsync: boolean): string[] {
  return fsync ? ['-c', 'fsync=on', '-c', 'wal_sync_method=fsync'] : ['-c', 'fsync=off']
}

interface NodeFsStream {
  nfd?: number
}
interface NodeFs {
  stream_ops: { fsync?: (stream: NodeFsStream) => number }
  tryFSOperation<T>(f: () => T): T
}

/**
 * A PGlite extension whose only effect is to give NODEFS an fsync that calls fsync(2) on the host file
 * descriptor, before PostgreSQL starts (so crash recovery's SyncDataDirectory and the end-of-recovery
 * checkpoint are flushed too). Errors become errno values, so PostgreSQL reports (or PANICs on) a failed
 * data-file fsync as it would on a real filesystem (data_sync_retry = off). With `startup` (after a
 * crash, syncAfterCrash below), an fsync of a file nothing changed since that syncfs is skipped.
 */
export function nodefsFsync(startup?: StartupSync): Extension {
  return {
    name: 'pyglite-fsync',
    setup: async (_pg, opts: { preRun?: Array<(mod: PgModule) => void> }) => {
      opts.preRun = [
        ...(opts.preRun ?? []),
        (mod: PgModule) => {
          const nodefs = mod.NODEFS as NodeFs | undefined
          if (!nodefs?.stream_ops || typeof nodefs.tryFSOperation !== 'function')
            throw new Error('PGlite has no NODEFS (unsupported PGlite build?)')
          nodefs.stream_ops.fsync = (stream) => {
            const fd = stream.nfd
            if (fd === undefined) return 0
            if (startup && alreadyDurable(fd, startup)) startup.skipped++
            else nodefs.tryFSOperation(() => fs.fsyncSync(fd))
            return 0
          }
        },
      ]
      return { emscriptenOpts: opts }
    },
  }
}

/**
 * fsync every file and directory under `dir`, children before parents (as initdb's sync_pgdata does).
 * PGlite writes a new cluster by copying an in-memory initdb result through NODEFS without any flush.
 */
export function syncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) syncTree(p)
    else if (entry.isFile()) syncPath(p)
  }
  syncPath(dir)
}

/** ControlFileData.state (pg_control.h: after system_identifier u64, pg_control_version, catalog_version_no). */
const CONTROL_STATE = 16
const DB_SHUTDOWNED = 1
const DB_SHUTDOWNED_IN_RECOVERY = 2
/**
 * A file whose inode changed this long before the syncfs began may be taken as flushed by it. The kernel
 * stamps ctime from a coarse clock (a tick, a few ms, behind the real time), so a write just after the
 * syncfs began can carry a ctime slightly before it; a second is far beyond that.
 */
const CTIME_MARGIN_MS = 1000

/** The window in which fsyncs of files unchanged since one syncfs of the data directory are skipped. */
export interface StartupSync {
  /** wall-clock time (ms) taken just before the syncfs began */
  since: number
  open: boolean
  /** fsyncs skipped so far, and what the syncfs took (for the log) */
  skipped: number
  syncfsMs: number
}

interface FsUtil {
  syncfs(fd: number): void
}
let fsutil: FsUtil | undefined

/**
 * After an unclean stop (a crash, a SIGKILL, or a database engine dropped after a fault it could not
 * survive: worker.ts backendDied), PostgreSQL's StartupXLOG (xlog.c) calls SyncDataDirectory (fd.c): an
 * fsync of every file of the cluster, because writes from before the crash may still be only in the OS page
 * cache, and a power loss after recovery wrote newer data could lose them. PostgreSQL 14+ can do that with
 * one syncfs(2) instead (recovery_init_sync_method = syncfs), but PGlite's build has no syncfs (the setting
 * offers only fsync), and the walk through NODEFS took 2-6 s for a new cluster's ~1000 files (two fsyncs
 * per file reach stream_ops.fsync, measured; each one a device flush on ext4 even for a clean file).
 *
 * So: when pg_control says the cluster was not shut down cleanly, call syncfs(2) on the data directory
 * here, before PostgreSQL starts, and open a window (closed by the caller once PostgreSQL has started) in
 * which an fsync of a file whose inode has not changed since then is skipped: its data was on stable
 * storage when syncfs returned. Every file written during recovery (replayed pages, the WAL, pg_control of
 * the end-of-recovery checkpoint) has a newer ctime and is fsynced as before, in PostgreSQL's order. Where
 * one syncfs would not cover the cluster (a tablespace or a pg_wal elsewhere), where the platform has no
 * syncfs, or where it fails, nothing changes: PostgreSQL fsyncs every file itself.
 */
export function syncAfterCrash(pgdata: string): StartupSync | undefined {
  let state: number
  try {
    state = fs.readFileSync(path.join(pgdata, 'global', 'pg_control')).readInt32LE(CONTROL_STATE)
  } catch {
    return undefined // no cluster yet, or not one PostgreSQL could start either
  }
  if (state === DB_SHUTDOWNED || state === DB_SHUTDOWNED_IN_RECOVERY) return undefined
  try {
    if (fs.lstatSync(path.join(pgdata, 'pg_wal')).isSymbolicLink()) return undefined
    if (fs.readdirSync(path.join(pgdata, 'pg_tblspc')).length > 0) return undefined
    const since = Date.now()
    syncFilesystem(pgdata)
    return { since, open: true, skipped: 0, syncfsMs: Date.now() - since }
  } catch (err) {
    logger('engine').warn(
      { err, pgdata },
      'syncfs failed: PostgreSQL fsyncs every file of the cluster instead',
    )
    return undefined // PostgreSQL's own walk then flushes every file
  }
}

/**
 * syncfs(2) of the filesystem holding `dir` (our native addon, native/guards/fsutil.c): one call flushes
 * everything written to it, as PostgreSQL's `recovery_init_sync_method = syncfs` and `initdb
 * --sync-method=syncfs` do. Throws where the platform has none or it fails.
 */
export function syncFilesystem(dir: string): void {
  fsutil ??= require(pkgPath('build', 'Release', 'pyglite_fsutil.node')) as FsUtil
  const fd = fs.openSync(dir, 'r')
  try {
    fsutil.syncfs(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function alreadyDurable(fd: number, s: StartupSync): boolean {
  if (!s.open) return false
  if (Date.now() < s.since) {
    s.open = false // the wall clock went back: ctimes can no longer be compared with `since`
    return false
  }
  try {
    return fs.fstatSync(fd).ctimeMs < s.since - CTIME_MARGIN_MS
  } catch {
    return false
  }
}
