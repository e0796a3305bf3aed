// Gives built-in SQL functions (pg_proc.prolang = internal) JavaScript bodies without touching the catalog:
// fmgr looks a built-in up by OID in fmgr_builtins[] (fmgr.c fmgr_isbuiltin, utils/fmgrtab.h) and calls its
// `func` pointer, which in wasm is a function-table index; pointing that word at a table slot of ours makes
// every later call (views such as pg_stat_activity included) land in JS, while pg_proc — names, OIDs,
// signatures, what psql, drivers and pg_dump read — stays exactly PostgreSQL's. The array is not exported,
// so its entries are found by probing the static data for their exact contents.
import { logger } from '../../util/log.js'
import { isLongjmp } from './elog.js'
import type { Heap } from './heap.js'
import { recall, remember, staticsEnd } from './probecache.js'

const log = () => logger('probes')

/** FmgrBuiltin (utils/fmgrtab.h) on wasm32: Oid foid; short nargs; bool strict; bool retset; char *funcName; PGFunction func. */
const FB = { size: 16, foid: 0, nargs: 4, strict: 6, retset: 7, funcName: 8, func: 12 } as const

/** A built-in as pg_proc describes it (the probe matches all of it). */
export interface BuiltinSpec {
  oid: number
  /** pg_proc.prosrc: the C function's name */
  prosrc: string
  nargs: number
  retset: boolean
}

/** A V1 function body: gets the FunctionCallInfo, returns the Datum; throws PgError for an ERROR. */
export type V1Body = (fcinfo: number) => number

/**
 * Find the fmgr_builtins[] entries of `specs`. Each must match its OID, nargs, retset and function name
 * exactly, and sit between entries of smaller and larger OID (the array is sorted by OID), or start-up fails:
 * a PGlite whose layout differs must not be patched blindly. The addresses found are remembered per build
 * (probecache.ts); the next start checks the remembered entries the same way and scans (one pass over the
 * static data, where an entry must also be the only match) only if one fails.
 */
export function findBuiltins(heap: Heap, specs: BuiltinSpec[]): Map<number, number> {
  const recalled = recall('builtins')
  if (recalled) {
    const out = new Map<number, number>()
    for (const s of specs) {
      const a = recalled[String(s.oid)]?.[0]
      if (
        a !== undefined &&
        (a & 3) === 0 &&
        a >= 1024 &&
        a < staticsEnd(heap) - FB.size &&
        isEntry(heap, a, s)
      )
        out.set(s.oid, a)
    }
    if (out.size === specs.length) return out
    if (specs.some((s) => recalled[String(s.oid)]))
      log().warn(
        { found: out.size, of: specs.length },
        'remembered fmgr_builtins entries failed their check: probing',
      )
  }
  const found = scanBuiltins(heap, specs)
  remember('builtins', Object.fromEntries([...found].map(([oid, a]) => [String(oid), [a]])))
  return found
}

/** Whether the FmgrBuiltin at `a` is the entry of `spec` (see findBuiltins). */
function isEntry(heap: Heap, a: number, spec: BuiltinSpec, name = cname(spec)): boolean {
  heap.refresh()
  const h = heap.i32
  const u8 = heap.u8
  if (h[a >> 2] !== spec.oid) return false
  if (heap.i16[(a + FB.nargs) >> 1] !== spec.nargs || u8[a + FB.retset] !== (spec.retset ? 1 : 0))
    return false
  const p = h[(a + FB.funcName) >> 2]!
  if (p <= 0 || p + name.length > u8.length) return false
  for (let i = 0; i < name.length; i++) if (u8[p + i] !== name[i]) return false
  const prev = h[(a - FB.size) >> 2]!
  const next = h[(a + FB.size) >> 2]!
  return prev < spec.oid && next > spec.oid
}

const cname = (s: BuiltinSpec) => Buffer.from(`${s.prosrc}\0`, 'latin1')

/** One pass over the static data; each spec's entry must be the only match. */
function scanBuiltins(heap: Heap, specs: BuiltinSpec[]): Map<number, number> {
  heap.refresh()
  const h = heap.i32
  const want = new Map(specs.map((s) => [s.oid, s]))
  const names = new Map(specs.map((s) => [s.oid, cname(s)]))
  const found = new Map<number, number[]>()
  const end = staticsEnd(heap) - FB.size
  for (let a = 1024; a < end; a += 4) {
    const spec = want.get(h[a >> 2]!)
    if (!spec || !isEntry(heap, a, spec, names.get(spec.oid))) continue
    found.set(spec.oid, [...(found.get(spec.oid) ?? []), a])
  }
  const out = new Map<number, number>()
  for (const s of specs) {
    const at = found.get(s.oid) ?? []
    if (at.length !== 1)
      throw new Error(
        `probe: fmgr_builtins entry of ${s.prosrc} (oid ${s.oid}) not found (${at.length} candidates)`,
      )
    out.set(s.oid, at[0]!)
  }
  return out
}

/**
 * Point the built-ins' entries at JS bodies. Every exit of a body is a Datum or a PostgreSQL ERROR: a
 * thrown PgError is raised with its fields, any other JS exception as XX000, and a longjmp (an ERROR
 * raised by a C function the body called) passes through untouched (docs/architecture.md hard rule 1).
 * Returns the original `func` words (table indexes of the C functions), by OID.
 */
export function replaceBuiltins(
  heap: Heap,
  raise: (e: unknown) => never,
  bodies: Array<{ spec: BuiltinSpec; body: V1Body }>,
): Map<number, number> {
  const at = findBuiltins(
    heap,
    bodies.map((b) => b.spec),
  )
  const originals = new Map<number, number>()
  for (const { spec, body } of bodies) {
    const entry = at.get(spec.oid)!
    const slot = heap.M.addFunction((fcinfo: number) => {
      try {
        return body(fcinfo)
      } catch (e) {
        if (isLongjmp(e)) throw e
        raise(e)
      }
    }, 'ii')
    originals.set(spec.oid, heap.u32at(entry + FB.func))
    heap.setU32(entry + FB.func, slot)
  }
  return originals
}
