// Durability of PGlite's files on a Node filesystem: a real fsync for Emscripten's NODEFS, the WAL sync
// method that reaches it, and a one-time sync of a freshly initialised cluster. Measured facts behind this
// (docs/durability.md has the details):
// - NODEFS writes with fs.writeSync, so data is in the OS page cache when write() returns: it survives a
//   kill of the process, not an OS crash or power loss, unless someone calls fsync.
// - Emscripten's fsync() reaches `stream_ops.fsync` (libc fd_sync), which NODEFS does not define: a no-op.
// - Emscripten's fdatasync() returns 0 without calling into the filesystem at all, and fdatasync is
//   PostgreSQL's default wal_sync_method on Linux (xlog.c issue_xlog_fsync), so commits were never flushed.
//   wal_sync_method=fsync sends each commit's WAL flush through fsync() and so to our stream_ops.fsync.
import fs from 'node:fs'
import path from 'node:path'
import type { Extension } from '@electric-sql/pglite'
import type { PgModule } from '../pg/heap.js'

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
 * data-file fsync as it would on a real filesystem (data_sync_retry = off).
 */
export function nodefsFsync(): Extension {
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
            if (fd !== undefined) nodefs.tryFSOperation(() => fs.fsyncSync(fd))
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

export function syncPath(p: string): void {
  const fd = fs.openSync(p, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
