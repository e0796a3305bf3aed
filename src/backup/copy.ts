// Copying a data directory for `pyglite backup` / `pyglite restore`: every file with its SHA-256, flushed to
// disk (fsync of each file and directory, as initdb's sync_pgdata does), and a manifest written last, so a
// backup without its manifest is known to be incomplete. What is left out follows pg_basebackup's list
// (src/backend/backup/basebackup.c excludeFiles): postmaster.pid / postmaster.opts, and our lock file.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { syncPath } from '../util/fsync.js'
import { pkgPath } from '../util/paths.js'

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(pkgPath('package.json'), 'utf8')) as { version: string }).version
}

export const MANIFEST = 'pyglite-backup.json'
/** files never copied, at any depth */
export const RESTORING = 'pyglite.restoring'
export const RESTORE_TMP = '.pyglite-restore'
const EXCLUDED = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'pyglite.lock',
  RESTORING,
  RESTORE_TMP,
  MANIFEST,
])

export interface FileEntry {
  path: string
  size: number
  sha256: string
}

export interface Manifest {
  format: 1
  created: string
  /** the data directory it was taken from */
  source: string
  /** taken from a running server (engine paused, each open database checkpointed first) */
  live: boolean
  pygliteVersion: string
  files: FileEntry[]
  /** directories, so empty ones (pg_tblspc, pg_replslot, …) are recreated */
  dirs: string[]
}

const CHUNK = 1 << 20

/**
 * Work directories of CREATE DATABASE (src/databases: `.creating-*`, a template being made `.template-*`,
 * a registry being replaced `*.tmp`): written by another thread, removed at the next start.
 */
function transient(name: string): boolean {
  return name.startsWith('.creating-') || name.startsWith('.template-') || name.endsWith('.tmp')
}

/** The top level of a data directory as a comparable string (which databases' clusters are there). */
function topLevel(dir: string): string {
  return fs
    .readdirSync(dir)
    .filter((n) => !EXCLUDED.has(n) && !transient(n))
    .sort()
    .join('/')
}

/** Copy one file, hashing what was read; the copy is fsynced before returning. */
function copyFile(from: string, to: string, mode: number): FileEntry {
  const hash = createHash('sha256')
  const buf = Buffer.allocUnsafe(CHUNK)
  const src = fs.openSync(from, 'r')
  const dst = fs.openSync(
    to,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
    mode & 0o777,
  )
  let size = 0
  try {
    for (;;) {
      const n = fs.readSync(src, buf, 0, CHUNK, null)
      if (n === 0) break
      hash.update(buf.subarray(0, n))
      let off = 0
      while (off < n) off += fs.writeSync(dst, buf, off, n - off)
      size += n
    }
    fs.fsyncSync(dst)
  } finally {
    fs.closeSync(src)
    fs.closeSync(dst)
  }
  return { path: to, size, sha256: hash.digest('hex') }
}

/**
 * Copy the tree under `src` into `dest` (which must exist and be empty). Returns the files and directories
 * copied, relative to `dest`. Nothing else may write under `src` meanwhile: the caller holds the data
 * directory's lock with no server running, or runs this on the paused engine thread.
 */
export function copyTree(src: string, dest: string): { files: FileEntry[]; dirs: string[] } {
  const files: FileEntry[] = []
  const dirs: string[] = []
  const walk = (rel: string) => {
    const from = path.join(src, rel)
    for (const e of fs
      .readdirSync(from, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (EXCLUDED.has(e.name) || transient(e.name)) continue
      const r = path.join(rel, e.name)
      const st = fs.lstatSync(path.join(src, r))
      if (e.isDirectory()) {
        fs.mkdirSync(path.join(dest, r), { mode: st.mode & 0o777 })
        dirs.push(r)
        walk(r)
        syncPath(path.join(dest, r))
      } else if (e.isFile()) {
        const f = copyFile(path.join(src, r), path.join(dest, r), st.mode)
        files.push({ ...f, path: r })
      }
      // sockets, symlinks (PGlite makes no tablespaces) and other special files are not data
    }
  }
  walk('')
  syncPath(dest)
  return { files, dirs }
}

/** Write the manifest last (atomically: a temporary name, fsync, rename, fsync of the directory). */
export function writeManifest(dest: string, m: Manifest): void {
  const tmp = path.join(dest, `${MANIFEST}.tmp`)
  fs.writeFileSync(tmp, `${JSON.stringify(m, null, 1)}\n`, { mode: 0o600 })
  const fd = fs.openSync(tmp, 'r')
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(tmp, path.join(dest, MANIFEST))
  syncPath(dest)
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST)
  if (!fs.existsSync(file))
    throw new Error(`"${dir}" is not a complete pyglite backup (no ${MANIFEST}: unfinished or not a backup)`)
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest
  if (m.format !== 1 || !Array.isArray(m.files)) throw new Error(`"${file}": unknown backup format`)
  return m
}

/** A new, empty directory for a backup: created, or existing and empty. */
export function prepareEmptyDir(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`"${dir}" exists and is not a directory`)
    if (fs.readdirSync(dir).length > 0) throw new Error(`"${dir}" exists and is not empty`)
  } else fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
}

/** Take a backup of `dataDir` into `dest`; the caller guarantees nothing writes meanwhile. */
export function backupDataDir(dataDir: string, dest: string, live: boolean, version: string): Manifest {
  prepareEmptyDir(dest)
  let copied: { files: FileEntry[]; dirs: string[] }
  // CREATE/DROP DATABASE rename or remove whole clusters from the main thread, even while the engine is
  // paused for a live backup: a copy that saw that happen is refused rather than kept inconsistent
  const before = topLevel(dataDir)
  try {
    copied = copyTree(dataDir, dest)
    if (topLevel(dataDir) !== before) throw Object.assign(new Error('changed'), { code: 'ENOENT' })
  } catch (e) {
    fs.rmSync(dest, { recursive: true, force: true }) // it was empty: leave nothing half-written
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('a database was created or dropped during the backup; run the backup again')
    throw e
  }
  const { files, dirs } = copied
  const m: Manifest = {
    format: 1,
    created: new Date().toISOString(),
    source: dataDir,
    live,
    pygliteVersion: version,
    files,
    dirs,
  }
  writeManifest(dest, m)
  return m
}
