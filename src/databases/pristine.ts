// The pristine cluster: initdb's result plus CREATE EXTENSION plpython3u, built once per PGlite build and
// recipe and kept in a cache. A new data directory's cluster, and the template cluster CREATE DATABASE
// copies, are copies of it instead of a new initdb (seconds, and two more PGlite instances in memory).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { extensionFiles } from '../engine/pg/bridge.js'
import { syncFilesystem, syncTree } from '../engine/storage/durable.js'
import { INITDB_ARGS } from '../engine/storage/params.js'
import { pgliteDist, pgliteWasmModule } from '../engine/storage/wasm.js'
import { cacheDisabled, cacheRoots, writableCacheRoot } from '../util/cache.js'
import { syncPath } from '../util/fsync.js'
import { logger } from '../util/log.js'
import { runHelper } from './helper.js'
import { replenishSpare, takeSpare } from './spare.js'

const log = logger('pristine')

/** Bump when the way the pristine cluster is made changes in a way the key below does not see. */
const RECIPE_VERSION = 1
export const PRISTINE_MANIFEST = 'pyglite-pristine.json'
/** Files of a cluster that are not copied: the manifest, and what a running server leaves. */
const NOT_COPIED = new Set([PRISTINE_MANIFEST, 'postmaster.pid', 'postmaster.opts', 'pyglite.lock'])
/** Where a copy is assembled before it is renamed into place (removed at start if a crash left one). */
export const COPYING_PREFIX = '.copying-'

export interface PristineManifest {
  key: string
  /** @electric-sql/pglite's version and its pglite.wasm's size when the cluster was made */
  pglite: string
  wasmBytes: number
  /** CATALOG_VERSION_NO of the PGlite that made it (PostgreSQL refuses a cluster whose pg_control differs) */
  catalogVersion: number
  /** hash of initdb's options and plpython3u's extension scripts */
  recipe: string
  created: string
}

/** What a usable pristine cluster must have been made with (this process's PGlite and recipe). */
export function pristineIdentity(): Omit<PristineManifest, 'catalogVersion' | 'created'> {
  const dist = pgliteDist()
  const pkg = JSON.parse(fs.readFileSync(path.join(dist, '..', 'package.json'), 'utf8')) as {
    version: string
  }
  const wasmBytes = fs.statSync(path.join(dist, 'pglite.wasm')).size
  const h = crypto.createHash('sha256').update(JSON.stringify({ v: RECIPE_VERSION, initdb: INITDB_ARGS }))
  // the extension's control and SQL files decide the catalog rows CREATE EXTENSION makes; the module's
  // bytes do not (its symbols are looked up when a function is first called)
  for (const [file, data] of extensionFiles(new Uint8Array()))
    if (typeof data === 'string') h.update(file).update('\0').update(data)
  const recipe = h.digest('hex').slice(0, 16)
  const key = crypto
    .createHash('sha256')
    .update(`${pkg.version}\0${wasmBytes}\0${recipe}`)
    .digest('hex')
    .slice(0, 16)
  return { key, pglite: pkg.version, wasmBytes, recipe }
}

/** The catalog version recorded in a cluster's pg_control (ControlFileData.catalog_version_no, offset 12). */
export function controlCatalogVersion(cluster: string): number {
  const buf = fs.readFileSync(path.join(cluster, 'global', 'pg_control'))
  return buf.readUInt32LE(12)
}

function readManifest(dir: string): PristineManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, PRISTINE_MANIFEST), 'utf8')) as PristineManifest
  } catch {
    return null
  }
}

/** A cache entry is used only if it was made by this PGlite and recipe, and its pg_control agrees. */
function usable(dir: string, id: ReturnType<typeof pristineIdentity>): boolean {
  const m = readManifest(dir)
  if (!m) return false
  if (m.key !== id.key || m.pglite !== id.pglite || m.wasmBytes !== id.wasmBytes || m.recipe !== id.recipe)
    return false
  try {
    return controlCatalogVersion(dir) === m.catalogVersion
  } catch {
    return false
  }
}

const pending = new Map<string, Promise<string>>()

/** The directory of a usable pristine cluster, built (once per process at a time) if there is none. */
export function ensurePristine(): Promise<string> {
  return ensureEntry('pristine', 'the pristine cluster', async (tmp) => {
    // what a server's first start did before this cache: PGlite's initdb, then CREATE EXTENSION plpython3u
    // in `postgres` (the engine's Instance.open on a fresh cluster)
    return helper(tmp, 'postgres', true, ['CREATE EXTENSION IF NOT EXISTS plpython3u'])
  })
}

/** The database CREATE DATABASE's prototype cluster holds (renamed to the new database's name). */
export const PROTOTYPE_DB = 'pyglite_prototype'

/**
 * The prototype of a new database's cluster: the pristine cluster in which `CREATE DATABASE` has made
 * PROTOTYPE_DB from template1 (with plpython3u, as pyglite's CREATE DATABASE gives it) and `postgres` was
 * dropped — what the manager's CREATE DATABASE makes from an untouched template1, but the name and owner.
 */
export function ensurePrototype(): Promise<string> {
  return ensureEntry('prototype', 'the prototype of new databases', async (tmp) => {
    await copyTree(await ensurePristine(), tmp)
    return helper(tmp, 'template1', true, [
      'CREATE EXTENSION IF NOT EXISTS plpython3u',
      `CREATE DATABASE ${PROTOTYPE_DB}`,
      'DROP DATABASE postgres',
    ])
  })
}

async function helper(pgdata: string, database: string, plpython: boolean, statements: string[]) {
  const r = await runHelper({ pgdata, database, statements, plpython, wasmModule: await pgliteWasmModule() })
  if (!r.ok) throw new Error(`${r.error.M}`)
  return r.catalogVersion
}

function ensureEntry(kind: string, what: string, make: (tmp: string) => Promise<number>): Promise<string> {
  let p = pending.get(kind)
  if (!p) {
    p = findOrBuild(kind, what, make).finally(() => pending.delete(kind))
    pending.set(kind, p)
  }
  return p
}

async function findOrBuild(
  kind: string,
  what: string,
  make: (tmp: string) => Promise<number>,
): Promise<string> {
  const id = pristineIdentity()
  for (const root of cacheRoots()) {
    const dir = path.join(root, `${kind}-${id.key}`)
    if (usable(dir, id)) return dir
    // an entry of this key that fails the check (a different PGlite build of the same size and version,
    // or a damaged copy): replaced below
  }
  const t0 = performance.now()
  const root = writableCacheRoot()
  const tmp = path.join(root, `.building-${crypto.randomBytes(6).toString('hex')}`)
  try {
    let catalogVersion: number
    try {
      catalogVersion = await make(tmp)
    } catch (e) {
      throw new Error(`could not build ${what}: ${(e as Error).message}`)
    }
    for (const f of NOT_COPIED) fs.rmSync(path.join(tmp, f), { force: true })
    const manifest: PristineManifest = { ...id, catalogVersion, created: new Date().toISOString() }
    fs.writeFileSync(path.join(tmp, PRISTINE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`)
    flushTree(tmp)
    const dir = path.join(root, `${kind}-${id.key}`)
    try {
      // a stale entry under this key (failed the check) goes first; then ours, unless another process
      // finished the same build meanwhile (rename of a directory onto a non-empty one fails): theirs is used
      if (fs.existsSync(dir) && !usable(dir, id)) fs.rmSync(dir, { recursive: true, force: true })
      fs.renameSync(tmp, dir)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !usable(dir, id)) throw e
      fs.rmSync(tmp, { recursive: true, force: true })
    }
    syncPath(root)
    log.info({ dir, ms: Math.round(performance.now() - t0) }, `built ${what}`)
    return dir
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true })
    throw e
  }
}

/**
 * True if the cluster `dir` is still an untouched copy of the pristine one: PostgreSQL rewrites pg_control
 * at every shutdown checkpoint, so a cluster any server has opened differs from the pristine's.
 */
export async function untouchedCopy(dir: string): Promise<boolean> {
  try {
    const mine = await fs.promises.readFile(path.join(dir, 'global', 'pg_control'))
    const pristine = await fs.promises.readFile(path.join(await ensurePristine(), 'global', 'pg_control'))
    return mine.equals(pristine)
  } catch {
    return false
  }
}

/**
 * Copy cluster `src` to `dest` (which must not exist): assembled under a temporary name beside it, flushed
 * to stable storage when `fsync` (initdb flushes its result too: initdb.c sync_pgdata), then renamed, so a
 * crash never leaves a half-copied cluster under the final name.
 */
export async function copyCluster(src: string, dest: string, fsync: boolean): Promise<void> {
  const parent = path.dirname(dest)
  const tmp = path.join(parent, `${COPYING_PREFIX}${crypto.randomBytes(6).toString('hex')}`)
  try {
    await copyTree(src, tmp)
    if (fsync) flushTree(tmp)
    await fs.promises.rename(tmp, dest)
    if (fsync) syncPath(parent)
  } catch (e) {
    await fs.promises.rm(tmp, { recursive: true, force: true })
    throw e
  }
}

/** Remove clusters half-copied by a process that died (the caller holds the data directory's lock). */
export function removeHalfCopies(dir: string): void {
  if (!fs.existsSync(dir)) return
  for (const f of fs.readdirSync(dir))
    if (f.startsWith(COPYING_PREFIX)) fs.rmSync(path.join(dir, f), { recursive: true, force: true })
}

/** Directories made in order, then the files copied a few at a time (copy_file_range in libuv's pool). */
export async function copyTree(src: string, dest: string): Promise<void> {
  const files: Array<[string, string]> = []
  const walk = (from: string, to: string) => {
    fs.mkdirSync(to, { mode: fs.statSync(from).mode & 0o777 })
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      if (NOT_COPIED.has(e.name)) continue
      const a = path.join(from, e.name)
      const b = path.join(to, e.name)
      if (e.isDirectory()) walk(a, b)
      else if (e.isFile()) files.push([a, b])
    }
  }
  walk(src, dest)
  let next = 0
  const worker = async () => {
    while (next < files.length) {
      const [a, b] = files[next++]!
      await fs.promises.copyFile(a, b, fs.constants.COPYFILE_EXCL)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

/**
 * Flush a new tree: one syncfs(2) of its filesystem (durable.ts syncFilesystem; an fsync per file of a
 * ~1,000-file cluster took 0.4–5 s here), else file by file as initdb's default does.
 */
export function flushTree(dir: string): void {
  try {
    syncFilesystem(dir)
  } catch {
    syncTree(dir)
  }
}

/**
 * Make `<dataDir>/<dir>` a copy of the pristine cluster (building that first if needed): its spare, taken
 * by a rename (spare.ts), else a copy. Never throws: on any failure it logs and leaves the directory absent,
 * and PGlite's initdb makes the cluster on open.
 */
export async function clusterFromPristine(dataDir: string, dir: string, fsync: boolean): Promise<boolean> {
  if (cacheDisabled()) return false
  const t0 = performance.now()
  try {
    removeHalfCopies(dataDir)
    const src = await ensurePristine()
    const dest = path.join(dataDir, dir)
    const tmp = path.join(dataDir, `${COPYING_PREFIX}${crypto.randomBytes(6).toString('hex')}`)
    const spare = await takeSpare(src, tmp)
    if (spare) {
      await fs.promises.rename(tmp, dest)
      if (fsync) syncPath(dataDir)
    } else await copyCluster(src, dest, fsync)
    replenishSpare(src, copyTree)
    log.info({ dir, from: src, spare, ms: Math.round(performance.now() - t0) }, 'copied the pristine cluster')
    return true
  } catch (e) {
    log.warn({ err: e }, 'could not copy the pristine cluster; initdb runs instead')
    return false
  }
}
