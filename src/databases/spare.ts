// Ready copies of the cached clusters (pristine.ts: the pristine cluster and the prototype of new databases),
// kept in the cache beside them and taken with one rename: a copy is ~1,000 files, and creating them cost
// 0.4–0.7 s here (file creation, not bytes), on the path of a first start and of every CREATE DATABASE.
// One spare per cache entry; whoever takes it makes the next one in the background, after a pause, so the
// copy is off the path of the start-up or the statement that needed it.
import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { cacheDisabled, cacheRoots, writableCacheRoot } from '../util/cache.js'
import { logger } from '../util/log.js'

const log = logger('pristine')

/** A spare being made: `spare-building-<pid>-<random>` (removed by the next maker once its process is gone). */
const BUILDING = 'spare-building-'
/** How long after a take the next spare is made (the server's start-up or statement is answered first). */
const REPLENISH_DELAY_MS = Number(process.env.PYGLITE_SPARE_DELAY_MS ?? 2000)

const spareOf = (root: string, entry: string) => path.join(root, `spare-${path.basename(entry)}`)

/**
 * Move the spare copy of cache entry `entry` to `dest` (which must not exist, on the same filesystem as the
 * cache): true if there was one. A spare is used only if its pg_control is the entry's byte for byte (a copy
 * of an entry since rebuilt is not); it was flushed before it got its name.
 */
export async function takeSpare(entry: string, dest: string): Promise<boolean> {
  if (cacheDisabled()) return false
  const control = await fs.promises.readFile(path.join(entry, 'global', 'pg_control'))
  for (const root of cacheRoots()) {
    try {
      // ENOENT: none here, or another process took it first; EXDEV: the cache is on another filesystem
      await fs.promises.rename(spareOf(root, entry), dest)
    } catch {
      continue
    }
    try {
      if ((await fs.promises.readFile(path.join(dest, 'global', 'pg_control'))).equals(control)) return true
    } catch {
      // not a cluster: removed below
    }
    log.warn({ spare: dest }, 'a spare cluster did not match its cache entry: removed')
    await fs.promises.rm(dest, { recursive: true, force: true })
  }
  return false
}

const making = new Set<string>()
/** spares this process is making now (removed if it exits meanwhile) */
const building = new Set<string>()
let exitHook = false

/**
 * In the background, after a pause: make the spare of `entry` if there is none (a copy under a temporary
 * name, flushed, then renamed). Never throws; a failure only means the next taker copies.
 */
export function replenishSpare(entry: string, copy: (src: string, dest: string) => Promise<void>): void {
  if (cacheDisabled() || making.has(entry)) return
  making.add(entry)
  const t = setTimeout(() => {
    makeSpare(entry, copy)
      .catch((e: unknown) => log.warn({ err: e }, 'could not make a spare cluster'))
      .finally(() => making.delete(entry))
  }, REPLENISH_DELAY_MS)
  t.unref() // a server stopping meanwhile does not wait for it
}

async function makeSpare(entry: string, copy: (src: string, dest: string) => Promise<void>): Promise<void> {
  const root = writableCacheRoot()
  removeAbandoned(root)
  const spare = spareOf(root, entry)
  if (fs.existsSync(spare)) return
  const t0 = performance.now()
  const tmp = path.join(root, `${BUILDING}${process.pid}-${crypto.randomBytes(6).toString('hex')}`)
  building.add(tmp)
  if (building.size === 1 && !exitHook) {
    exitHook = true
    // a server stopping while it makes one leaves no half copy (a killed one: the next maker removes it)
    process.once('exit', () => {
      for (const dir of building) fs.rmSync(dir, { recursive: true, force: true })
    })
  }
  try {
    // the entry must stay the same throughout (a rebuild replaces its directory): else the copy may mix two
    const before = await identify(entry)
    await copy(entry, tmp)
    const after = await identify(entry)
    const mine = await fs.promises.readFile(path.join(tmp, 'global', 'pg_control'))
    if (before.ino !== after.ino || !before.control.equals(after.control) || !mine.equals(after.control))
      return
    await syncfs(tmp)
    try {
      await fs.promises.rename(tmp, spare)
    } catch (e) {
      // another process made it meanwhile (a directory is not renamed onto a non-empty one): theirs stays
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e
    }
    log.debug({ spare, ms: Math.round(performance.now() - t0) }, 'made a spare cluster')
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true })
    building.delete(tmp)
  }
}

async function identify(entry: string): Promise<{ ino: number; control: Buffer }> {
  const { ino } = await fs.promises.stat(entry)
  return { ino, control: await fs.promises.readFile(path.join(entry, 'global', 'pg_control')) }
}

/** Spares half-made by processes that are gone (a server stopped or killed while it made one). */
function removeAbandoned(root: string): void {
  for (const f of fs.readdirSync(root)) {
    if (!f.startsWith(BUILDING)) continue
    const pid = Number(f.slice(BUILDING.length).split('-')[0])
    if (pid === process.pid || alive(pid)) continue
    fs.rmSync(path.join(root, f), { recursive: true, force: true })
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * syncfs(2) through coreutils' `sync -f`: durable.ts syncFilesystem's call, in a process, so that this
 * thread (the server's main thread) is not blocked while the disk flushes.
 */
function syncfs(dir: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('sync', ['-f', dir], (e) => (e ? reject(new Error(`sync -f ${dir}: ${e.message}`)) : resolve())),
  )
}
