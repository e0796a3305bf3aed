// Where the start-up probes (statics.ts, builtins.ts) look for PostgreSQL's private statics, and where they
// found them last time, kept in pyglite's cache directory per pglite.wasm: they are addresses in the main
// module's static data, the same for every start of one build, and scanning the static data for them took
// seconds per database open. A recollection is never trusted as it stands: each probe runs its own checks
// (values, then functional ones) on the remembered addresses instead of on the scan's candidates, and
// probes afresh when one fails.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { cacheDisabled, cacheRoots, writableCacheRoot } from '../../util/cache.js'
import { logger } from '../../util/log.js'
import type { Heap } from './heap.js'

const log = () => logger('probes')

/** Bump when what a probe remembers changes meaning (the file of an older format is then ignored). */
const FORMAT = 1

/** A probe group's recollection: addresses by name (statics.ts: per static; builtins.ts: per OID). */
export type Recollection = Record<string, number[]>

interface ProbeFile {
  format: number
  key: string
  pglite: string
  wasmBytes: number
  groups: Record<string, Recollection>
}

interface Identity {
  key: string
  pglite: string
  wasmBytes: number
}

let identity: Identity | undefined
/** this thread's copy of the file's groups (read once; what a probe found since is laid over it) */
let groups: Record<string, Recollection> | undefined

/**
 * The build the addresses belong to: PGlite's version and pglite.wasm's size, as the pristine cluster's key
 * (databases/pristine.ts). Another build of the same size only makes the remembered addresses fail their
 * checks once.
 */
function buildIdentity(): Identity {
  if (identity) return identity
  const dist = path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
  const pkg = JSON.parse(fs.readFileSync(path.join(dist, '..', 'package.json'), 'utf8')) as {
    version: string
  }
  const wasmBytes = fs.statSync(path.join(dist, 'pglite.wasm')).size
  const key = crypto
    .createHash('sha256')
    .update(`probes\0${FORMAT}\0${pkg.version}\0${wasmBytes}`)
    .digest('hex')
    .slice(0, 16)
  identity = { key, pglite: pkg.version, wasmBytes }
  return identity
}

/** The cache file's name for this build. */
export function probeCacheFile(): string {
  return `probes-${buildIdentity().key}.json`
}

const isAddressList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((a) => Number.isSafeInteger(a) && a >= 0)

/** The groups of a file that is this build's and well-formed, else null (garbage is as good as absent). */
function parse(text: string, id: Identity): Record<string, Recollection> | null {
  let f: ProbeFile
  try {
    f = JSON.parse(text) as ProbeFile
  } catch {
    return null
  }
  if (typeof f !== 'object' || f === null) return null
  if (f.format !== FORMAT || f.key !== id.key || f.pglite !== id.pglite || f.wasmBytes !== id.wasmBytes)
    return null
  if (typeof f.groups !== 'object' || f.groups === null) return null
  const out: Record<string, Recollection> = {}
  for (const [g, rec] of Object.entries(f.groups)) {
    if (typeof rec !== 'object' || rec === null) continue
    const clean: Recollection = {}
    for (const [name, addrs] of Object.entries(rec)) if (isAddressList(addrs)) clean[name] = addrs
    out[g] = clean
  }
  return out
}

/** The first readable entry for this build among the cache directories. */
function readFile(): Record<string, Recollection> {
  const id = buildIdentity()
  for (const root of cacheRoots()) {
    let text: string
    try {
      text = fs.readFileSync(path.join(root, probeCacheFile()), 'utf8')
    } catch {
      continue // not cached there
    }
    const parsed = parse(text, id)
    if (parsed) return parsed
    log().info(
      { file: path.join(root, probeCacheFile()) },
      'the probe cache is not this build’s or unreadable',
    )
  }
  return {}
}

/** What the probes of `group` found last time (undefined: nothing, or the cache is off). */
export function recall(group: string): Recollection | undefined {
  if (cacheDisabled()) return undefined
  groups ??= readFile()
  return groups[group]
}

/**
 * Remember what the probes of `group` found (laid over what was remembered, then written). The file is
 * written under a temporary name and renamed, so a reader never sees half of it; two servers writing at
 * once each write a whole file of the same build, and what one lacks is probed and added at a later start.
 */
export function remember(group: string, found: Recollection): void {
  if (cacheDisabled()) return
  groups ??= readFile()
  const merged = { ...groups[group], ...found }
  if (JSON.stringify(merged) === JSON.stringify(groups[group])) return
  groups[group] = merged
  const id = buildIdentity()
  try {
    const root = writableCacheRoot()
    const file = path.join(root, probeCacheFile())
    // what another process added meanwhile is kept (its groups or names this thread does not know)
    let onDisk: Record<string, Recollection> = {}
    try {
      onDisk = parse(fs.readFileSync(file, 'utf8'), id) ?? {}
    } catch {
      // no file yet
    }
    for (const [g, rec] of Object.entries(onDisk)) groups[g] = { ...rec, ...groups[g] }
    const body: ProbeFile = { format: FORMAT, ...id, groups }
    const tmp = path.join(root, `.${probeCacheFile()}.${crypto.randomBytes(4).toString('hex')}`)
    fs.writeFileSync(tmp, `${JSON.stringify(body, null, 1)}\n`)
    fs.renameSync(tmp, file)
  } catch (e) {
    // a cache that cannot be written costs the probes at the next start, nothing else
    log().debug({ err: e }, 'could not write the probe cache')
  }
}

/** Upper bound of the static data region: the initial stack pointer (statics lie below the stack). */
export function staticsEnd(heap: Heap): number {
  const sp = heap.M.___stack_pointer as WebAssembly.Global | undefined
  const v = sp ? Number(sp.value) : 0
  return v > 0 ? Math.min(v, heap.u8.length) : heap.u8.length
}

/**
 * Where a probe looks for its words: the whole static data region, or — recalling an earlier start of the
 * same build — only the addresses found then. Either way the same checks decide; what passed them is kept
 * (`found`) to be remembered.
 */
export class Finder {
  readonly found: Recollection = {}

  constructor(
    private readonly heap: Heap,
    private readonly recalled?: Recollection,
  ) {}

  /** The aligned words of the static data (or the recalled ones of `name`) whose value satisfies `pred`. */
  words(name: string, pred: (addr: number, w: number) => boolean): number[] {
    const heap = this.heap
    heap.refresh()
    const h = heap.i32
    const end = staticsEnd(heap) >> 2
    const out: number[] = []
    if (this.recalled) {
      for (const a of this.recalled[name] ?? [])
        if ((a & 3) === 0 && a >> 2 >= 256 && a >> 2 < end && pred(a, h[a >> 2]!)) out.push(a)
      return out
    }
    for (let i = 256; i < end; i++) if (pred(i << 2, h[i]!)) out.push(i << 2)
    return out
  }

  /** Candidates found another way (in a window of the static data): when recalling, the recalled ones. */
  among(name: string, candidates: number[]): number[] {
    const r = this.recalled
    if (!r) return candidates
    const want = new Set(r[name] ?? [])
    return candidates.filter((a) => want.has(a))
  }

  keep(name: string, addrs: number[]): void {
    this.found[name] = addrs
  }
}
