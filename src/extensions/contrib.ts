// PostgreSQL's contrib extensions as the pinned PGlite ships them, offered in every database: their
// control, script and library files appear in the instance's lib/ and share/ directories as links into
// the unpacked cache (bundles.ts), mounted read-only from disk. Nothing is read or compiled until
// PostgreSQL opens a file: pg_available_extensions reads the control files, CREATE EXTENSION the scripts,
// the first call of a C function dlopen()s its library (dfmgr.c). A server that uses none pays nothing.
import fs from 'node:fs'
import path from 'node:path'
import type { PgModule } from '../engine/pg/heap.js'
import { contribCache } from './bundles.js'
import { addTransforms } from './transforms.js'

/** the transforms' files are in the cache (once per process, before the cache is listed) */
let transformsAdded: Promise<void> | undefined

/** Where the cache is mounted inside the instance (PGlite's install prefix is /pglite). */
const MOUNT = '/pglite/contrib'
const PREFIX = '/pglite'

interface EmFs {
  mkdirTree(p: string): void
  mount(type: unknown, opts: { root: string }, mountpoint: string): void
  symlink(target: string, link: string): void
  readdir(p: string): string[]
}

let files: { cache: string; rel: string[] } | undefined

/** Files of the cache under lib/ and share/ (relative paths), listed once per process. */
function cacheFiles(): { cache: string; rel: string[] } {
  if (files) return files
  const cache = contribCache()
  const rel: string[] = []
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(cache, dir), { withFileTypes: true })) {
      const r = `${dir}/${e.name}`
      if (e.isDirectory()) walk(r)
      else rel.push(r)
    }
  }
  for (const top of ['lib', 'share']) if (fs.existsSync(path.join(cache, top))) walk(top)
  files = { cache, rel: rel.sort() }
  return files
}

/** Offer the contrib extensions, and PL/Python's transforms, in one instance (before any client asks). */
export async function installContrib(M: PgModule): Promise<void> {
  // off: none of it (the measurement's baseline: scripts/measure-contrib.mjs, docs/extensions.md)
  if (process.env.PYGLITE_CONTRIB === 'off') return
  transformsAdded ??= addTransforms(contribCache())
  await transformsAdded
  const FS = M.FS as unknown as EmFs
  const { cache, rel } = cacheFiles()
  FS.mkdirTree(MOUNT)
  FS.mount(M.NODEFS, { root: cache }, MOUNT)
  // each directory listed once (a lookup of a name that is not there throws inside Emscripten's FS:
  // ~250 of those took ~18 ms of every open)
  const listed = new Map<string, Set<string>>()
  for (const r of rel) {
    const link = `${PREFIX}/${r}`
    const cut = link.lastIndexOf('/')
    const dir = link.slice(0, cut)
    let names = listed.get(dir)
    if (!names) {
      FS.mkdirTree(dir) // creates what is missing, leaves what is there
      names = new Set(FS.readdir(dir))
      listed.set(dir, names)
    }
    // PGlite's own files (plpgsql, the encodings' conversion libraries, …) stay as they are
    if (!names.has(link.slice(cut + 1))) FS.symlink(`${MOUNT}/${r}`, link)
  }
}
