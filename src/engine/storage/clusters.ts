// Where each database lives on disk: one PostgreSQL cluster per database under the data directory, a
// pristine template cluster to copy, and the registry of databases created with CREATE DATABASE.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { syncPath } from '../../util/fsync.js'

/** The initial database: its cluster holds the roles (pg_authid) every connection authenticates against. */
export const AUTHORITY_DB = 'postgres'
/** A cluster from initdb, copied by CREATE DATABASE; the engine opens it for connections to template1. */
export const TEMPLATE_DIR = '.template'
/** The registry of created databases (JSON), written atomically. */
export const REGISTRY_FILE = 'databases.json'

/**
 * The cluster directory of a database, relative to the data directory. The initial database keeps the
 * plain name `postgres`, template1 is the template cluster (data directories made before CREATE DATABASE existed); others get `db-<hex of the
 * name>`: any name PostgreSQL accepts (quotes, slashes, dots, non-ASCII) maps to a safe, unique file name.
 */
export function clusterDir(name: string): string {
  if (name === AUTHORITY_DB) return AUTHORITY_DB
  // template1 is the template cluster's own template1: what users put there, new databases get
  if (name === 'template1') return TEMPLATE_DIR
  return `db-${Buffer.from(name, 'utf8').toString('hex')}`
}

export interface DatabaseEntry {
  name: string
  /** role name that owns it (pg_database.datdba at creation; ALTER DATABASE OWNER is not tracked) */
  owner: string
  created: string
}

export function readRegistry(dataDir: string): DatabaseEntry[] {
  const file = path.join(dataDir, REGISTRY_FILE)
  if (!fs.existsSync(file)) return []
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { databases?: DatabaseEntry[] }
  // a database whose directory vanished (removed by hand) is not offered any more
  return (parsed.databases ?? []).filter((d) =>
    fs.existsSync(path.join(dataDir, clusterDir(d.name), 'PG_VERSION')),
  )
}

export function writeRegistry(dataDir: string, entries: DatabaseEntry[]): void {
  const file = path.join(dataDir, REGISTRY_FILE)
  const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`
  const fd = fs.openSync(tmp, 'w', 0o600)
  try {
    fs.writeSync(fd, `${JSON.stringify({ databases: entries }, null, 2)}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  // the rename itself reaches stable storage only with its directory (fd.c durable_rename does the same)
  syncPath(dataDir)
}
