// `pyglite backup <dir>` and `pyglite restore <dir>`: a consistent copy of the data directory, and putting
// one back. Backup works with the server stopped (this command takes the data directory's lock and copies)
// or running (it asks the server over its control socket: the server checkpoints every open database and
// copies while its engine is paused, so the copy is a clean point in time). Restore needs the server
// stopped. Exit status: 0 done, 1 refused or failed, 2 bad usage.

import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DataDirInUse, DataDirLock } from '../util/datadir.js'
import { requestBackup } from './control.js'
import { backupDataDir, packageVersion } from './copy.js'
import { restoreDataDir } from './restore.js'

const USAGE = `Usage: pyglite backup <backup-dir> [--data-dir <dir>]
       pyglite restore <backup-dir> [--data-dir <dir>]

backup   copy the data directory into <backup-dir> (new or empty), with a manifest of SHA-256 sums;
         works while the server runs (it pauses for the copy) and while it is stopped
restore  put a backup in place of the data directory (the server must be stopped); the current
         contents are moved to <data-dir>.before-restore-<time>, nothing is deleted
--data-dir defaults to $PYGLITE_DATA_DIR or ./pyglite-data`

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`

export async function runTool(cmd: 'backup' | 'restore', argv: string[]): Promise<number> {
  let dataDir: string
  let target: string
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
    if (values.help) {
      process.stdout.write(`${USAGE}\n`)
      return 0
    }
    if (positionals.length !== 1) throw new Error(`${cmd} needs exactly one <backup-dir>`)
    dataDir = path.resolve(values['data-dir'] ?? process.env.PYGLITE_DATA_DIR ?? './pyglite-data')
    target = path.resolve(positionals[0]!)
  } catch (e) {
    process.stderr.write(`pyglite: ${(e as Error).message.split('\n')[0]}\n${USAGE}\n`)
    return 2
  }
  try {
    if (!fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')) && cmd === 'backup')
      throw new Error(`"${dataDir}" is not a pyglite data directory`)
    const line = cmd === 'backup' ? await backup(dataDir, target) : restore(target, dataDir)
    process.stdout.write(`pyglite: ${line}\n`)
    return 0
  } catch (e) {
    process.stderr.write(`pyglite: ${cmd} failed: ${(e as Error).message}\n`)
    return 1
  }
}

async function backup(dataDir: string, dest: string): Promise<string> {
  if (dest === dataDir || dest.startsWith(`${dataDir}/`))
    throw new Error('the backup cannot go inside the data directory')
  let lock: DataDirLock
  try {
    lock = DataDirLock.acquire(dataDir, 'backup')
  } catch (e) {
    if (!(e instanceof DataDirInUse) || e.holder?.role !== 'server' || !e.holder.control) throw e
    const r = await requestBackup(e.holder, dest)
    return `backup of the running server's "${dataDir}" written to "${dest}": ${r.files} files, ${mb(r.bytes)}, engine paused ${r.ms} ms`
  }
  try {
    const t0 = Date.now()
    const m = backupDataDir(dataDir, dest, false, packageVersion())
    const bytes = m.files.reduce((a, f) => a + f.size, 0)
    const note = lock.stale
      ? ' (the last server did not stop cleanly: PostgreSQL will recover this copy from its WAL on start)'
      : ''
    return `backup of "${dataDir}" (server stopped) written to "${dest}": ${m.files.length} files, ${mb(bytes)}, ${Date.now() - t0} ms${note}`
  } finally {
    lock.release(lock.stale)
  }
}

function restore(backupDir: string, dataDir: string): string {
  const lock = DataDirLock.acquire(dataDir, 'restore') // refuses while a server runs on it
  try {
    const r = restoreDataDir(backupDir, dataDir)
    const aside = r.aside ? `; the previous contents are in "${r.aside}"` : ''
    return `restored "${dataDir}" from the backup of ${r.manifest.created} (${r.manifest.files.length} files)${aside}`
  } finally {
    lock.release()
  }
}
