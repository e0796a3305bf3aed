// "MODIFY": the replacement columns the native walk of TD["new"] left in the modify area become Datums
// (staged by-reference values copied into palloc'd memory; other values through the core's builders:
// the type's input function with the column's typmod, domain checks, composites, arrays), then one
// heap_modify_tuple_by_cols (PLy_modify_tuple). Runs after SPI_finish, in the trigger manager's memory
// context, under the "while modifying trigger row" CONTEXT line.

import type { ErrorTuple } from '../python/host.js'
import type { PlRuntime } from '../python/language.js'
import { M, STAT, type TriggerNative } from './native.js'
import type { Scratch, TriggerRows } from './rows.js'
import type { Site } from './site.js'

/** heap_modify_tuple_by_cols and palloc, looked up once per module (the module object is huge). */
interface Fns {
  modify: (tuple: number, desc: number, n: number, cols: number, values: number, nulls: number) => number
  palloc: (n: number) => number
}
const fns = new WeakMap<object, Fns>()

function wasmFns(M: PlRuntime['heap']['M']): Fns {
  let f = fns.get(M)
  if (!f) {
    f = { modify: M._heap_modify_tuple_by_cols, palloc: M._palloc }
    fns.set(M, f)
  }
  return f
}

/**
 * Build the count replacement entries of the modify area (in TD["new"]'s key order, so errors of the
 * input functions come in PL/Python's order), then raise `failure` if the walk stopped at an error, else
 * return the modified tuple (or `base` itself when nothing needs replacing).
 */
export function applyModify(
  rt: PlRuntime,
  native: TriggerNative,
  rows: TriggerRows,
  site: Site,
  s: Scratch,
  base: number,
  failure: ErrorTuple | null,
): number {
  const h = rt.heap
  const f = wasmFns(h.M)
  const stat = rt.host.stat
  const count = stat[STAT.count]!
  const staged = stat[STAT.staging]!
  const cols = s.area
  const values = s.area + 4 * site.natts
  const nulls = s.area + 8 * site.natts
  const kinds = s.area + 9 * site.natts
  // entries converted natively cannot fail: the CONTEXT line matters only for input functions and errors
  const ctx = staged > 0 || failure ? rt.contexts.push('while modifying trigger row') : -1
  try {
    let chunk = 0
    if (staged > 0) {
      chunk = f.palloc(staged) // MAXALIGNed: the staged entries are 8-aligned within it
      native.trigCopyStaging(chunk)
    }
    for (let k = 0; k < count; k++) {
      const kind = h.u8at(kinds + k)
      if (kind === M.READY) continue
      const v = values + 4 * k
      const off = chunk + h.u32at(v)
      if (kind !== M.GENERIC) {
        h.setU32(v, off) // int8, float8, text: the staged Datum itself
        continue
      }
      // a copy: building may call into wasm, which can grow (and so detach) the memory buffer
      const reader = rows.readerFor(s, off + 4, h.u32at(off))
      const col = site.cols[h.i32at(cols + 4 * k) - 1]!
      col.builder ??= rt.out.builder(col.typid, col.typmod)
      const d = col.builder(reader)
      h.setU32(v, d >>> 0)
      h.setU8(nulls + k, rt.out.isnull ? 1 : 0)
    }
    if (failure) rt.raisePython(site.proc, failure)
    if (count === 0) return base
    return f.modify(base, site.desc, count, cols, values, nulls)
  } finally {
    if (ctx >= 0) rt.contexts.pop(ctx)
  }
}
