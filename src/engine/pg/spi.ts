// SPI primitives for JS (spi.c): connecting, running a query, and reading results as text.
// Errors raised inside are PostgreSQL ERRORs (longjmps); callers that must survive them use Elog.tryCatch.
import type { Heap } from './heap.js'
import { L, SPI } from './layout.js'

export interface TextResult {
  status: number
  processed: number
  columns: string[]
  types: number[]
  rows: Array<Array<string | null>>
}

export class Spi {
  constructor(private readonly heap: Heap) {}

  /** SPI_connect_ext; nonatomic for procedures and DO blocks that may COMMIT/ROLLBACK. */
  connect(nonatomic = false): void {
    const rc = this.heap.M._SPI_connect_ext(nonatomic ? SPI.OPT_NONATOMIC : 0) as number
    if (rc !== SPI.OK_CONNECT) throw new Error(`SPI_connect failed: ${this.resultString(rc)}`)
  }

  finish(): void {
    const rc = this.heap.M._SPI_finish() as number
    if (rc !== SPI.OK_FINISH) throw new Error(`SPI_finish failed: ${this.resultString(rc)}`)
  }

  resultString(rc: number): string {
    return this.heap.str(this.heap.M._SPI_result_code_string(rc)) ?? String(rc)
  }

  /** SPI_execute and read every value through its output function (catalog lookups, not hot paths). */
  queryText(sql: string, readOnly: boolean, limit = 0): TextResult {
    const h = this.heap
    const M = h.M
    const rc = M._SPI_execute(h.pstrdup(sql), readOnly ? 1 : 0, limit) as number
    if (rc < 0) throw new Error(`SPI_execute failed: ${this.resultString(rc)}`)
    const res: TextResult = {
      status: rc,
      processed: h.u64at(M._SPI_processed),
      columns: [],
      types: [],
      rows: [],
    }
    const tt = h.u32at(M._SPI_tuptable)
    if (!tt) return res
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const vals = h.u32at(tt + L.stt_vals)
    const natts = h.i32at(tupdesc + L.tupdesc_natts)
    for (let c = 1; c <= natts; c++) {
      const np = M._SPI_fname(tupdesc, c) as number
      res.columns.push(h.str(np) ?? '')
      M._pfree(np)
      res.types.push((M._SPI_gettypeid(tupdesc, c) as number) >>> 0)
    }
    const n = h.u64at(tt + L.stt_numvals)
    for (let r = 0; r < n; r++) {
      const tup = h.u32at(vals + 4 * r)
      const row: Array<string | null> = []
      for (let c = 1; c <= natts; c++) {
        const vp = M._SPI_getvalue(tup, tupdesc, c) as number
        row.push(vp ? h.str(vp) : null)
        if (vp) M._pfree(vp)
      }
      res.rows.push(row)
    }
    M._SPI_freetuptable(tt)
    return res
  }
}
