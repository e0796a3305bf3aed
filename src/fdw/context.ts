// What every foreign-data wrapper callback of one PGlite instance shares: memory, the language runtime
// (plpy frames, conversions, errors), the Python side, and the running transaction's level.
import type { Heap } from '../engine/pg/heap.js'
import type { PlRuntime } from '../python/language.js'
import { defJson, type TableDef } from './catalog.js'
import { QualReader } from './nodes.js'
import { FdwPython } from './python.js'

/** XACT_SERIALIZABLE (xact.h): what begin(serializable) is told. */
const XACT_SERIALIZABLE = 3

export class FdwContext {
  readonly py: FdwPython
  readonly quals: QualReader
  /** Python scan ids still open (closed at the end of the transaction if the executor never ended them) */
  readonly liveScans = new Set<number>()

  constructor(
    readonly h: Heap,
    readonly rt: PlRuntime,
  ) {
    this.py = new FdwPython(rt)
    this.quals = new QualReader(h, rt.datum)
  }

  /** The definition as the Python side takes it, with the current transaction's nesting level. */
  json(def: TableDef): string {
    const M = this.h.M
    const level = M._GetCurrentTransactionNestLevel() as number
    const serializable = this.h.i32at(M._XactIsoLevel) === XACT_SERIALIZABLE
    return defJson(def, this.rt.session, level, serializable)
  }

  /** Run `body` with CurrentMemoryContext switched to `cxt` (MemoryContextSwitchTo is a static inline). */
  inContext<T>(cxt: number, body: () => T): T {
    const h = this.h
    const addr = h.M._CurrentMemoryContext as number
    const old = h.u32at(addr)
    h.setU32(addr, cxt)
    try {
      return body()
    } finally {
      h.setU32(addr, old)
    }
  }
}
