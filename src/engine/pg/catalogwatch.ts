// Catalog invalidation counters, fed by PostgreSQL's own cache invalidation callbacks (utils/inval.c):
// compiled procedures and type converters built from catalog rows stay valid until a counter moves.
// This is how PL/Python's caches learn about CREATE OR REPLACE, ALTER TYPE and ALTER TABLE
// (plpy_procedure.c checks the pg_proc row per call; typcache tracks tupdesc identifiers).
import type { Heap } from './heap.js'
import { SYSCACHE } from './layout.js'

export class CatalogWatch {
  /** pg_proc rows changed (CREATE OR REPLACE, ALTER/DROP FUNCTION, and their rollbacks). */
  procGen = 1
  /** pg_type rows changed (types created, altered, dropped). */
  typeGen = 1
  /** some relation's descriptor changed (also composite types: they have a pg_class row). */
  relGen = 1

  /** Moves whenever any of the three does (a turn's DDL: sessions/temps.ts adopt). */
  get generation(): number {
    return this.procGen + this.typeGen + this.relGen
  }

  constructor(heap: Heap) {
    const M = heap.M
    // void (*)(Datum arg, int cacheid, uint32 hashvalue); must never throw into wasm
    const sys = M.addFunction((_arg: number, cacheid: number) => {
      if (cacheid === SYSCACHE.PROCOID) this.procGen++
      else this.typeGen++
      return undefined
    }, 'viii')
    M._CacheRegisterSyscacheCallback(SYSCACHE.PROCOID, sys, 0)
    M._CacheRegisterSyscacheCallback(SYSCACHE.TYPEOID, sys, 0)
    // void (*)(Datum arg, Oid relid)
    const rel = M.addFunction(() => {
      this.relGen++
      return undefined
    }, 'vii')
    M._CacheRegisterRelcacheCallback(rel, 0)
  }
}
