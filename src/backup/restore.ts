// `pyglite restore`: put a verified backup in place of a data directory, losing nothing. The caller holds
// the data directory's lock (no server runs). Steps, each durable before the next:
//   1. <dataDir>/pyglite.restoring is written (a server refuses to start while it exists);
//   2. the backup is copied into <dataDir>/.pyglite-restore and every file's size and SHA-256 checked
//      against the manifest (a damaged backup is refused and the data directory is left as it was);
//   3. the current contents move aside to <dataDir>.before-restore-<time> (renames, nothing deleted);
//   4. the copied entries are renamed into place, then the marker is removed.
// An interrupted restore leaves the marker; running the same restore again finishes it.
import fs from 'node:fs'
import path from 'node:path'
import { LOCK_FILE } from '../util/datadir.js'
import { syncPath } from '../util/fsync.js'
import { copyTree, type Manifest, RESTORE_TMP, RESTORING, readManifest } from './copy.js'

export interface Restored {
  manifest: Manifest
  /** where the previous contents went (null if the data directory was empty) */
  aside: string | null
}

function writeSynced(file: string, text: string): void {
  const fd = fs.openSync(file, 'w', 0o600)
  try {
    fs.writeSync(fd, text)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Whether a restore into `dataDir` was interrupted (the server must not start on such a directory). */
export function restoreInterrupted(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, RESTORING))
}

export function restoreDataDir(backup: string, dataDir: string): Restored {
  const manifest = readManifest(backup)
  writeSynced(
    path.join(dataDir, RESTORING),
    `${JSON.stringify({ from: backup, started: new Date().toISOString() })}\n`,
  )
  syncPath(dataDir)

  const tmp = path.join(dataDir, RESTORE_TMP)
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { mode: 0o700 })
  const copied = copyTree(backup, tmp)
  const want = new Map(manifest.files.map((f) => [f.path, f]))
  const bad: string[] = []
  for (const f of copied.files) {
    const w = want.get(f.path)
    if (!w) bad.push(`${f.path}: not in the manifest`)
    else if (w.size !== f.size || w.sha256 !== f.sha256) bad.push(`${f.path}: size or checksum differs`)
    want.delete(f.path)
  }
  for (const f of want.keys()) bad.push(`${f}: missing`)
  if (bad.length > 0) {
    fs.rmSync(tmp, { recursive: true, force: true })
    fs.rmSync(path.join(dataDir, RESTORING))
    syncPath(dataDir)
    throw new Error(
      `backup "${backup}" is damaged (${bad.length} file${bad.length > 1 ? 's' : ''}: ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? '; …' : ''}); nothing was changed`,
    )
  }

  const keep = new Set([LOCK_FILE, RESTORING, RESTORE_TMP])
  const current = fs.readdirSync(dataDir).filter((n) => !keep.has(n))
  let aside: string | null = null
  if (current.length > 0) {
    aside = `${dataDir.replace(/\/+$/, '')}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`
    fs.mkdirSync(aside, { mode: 0o700 })
    for (const n of current) fs.renameSync(path.join(dataDir, n), path.join(aside, n))
    syncPath(aside)
    syncPath(dataDir)
  }
  for (const n of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, n), path.join(dataDir, n))
  syncPath(dataDir)
  fs.rmdirSync(tmp)
  fs.rmSync(path.join(dataDir, RESTORING))
  syncPath(dataDir)
  return { manifest, aside }
}
