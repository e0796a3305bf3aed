// The JS side of the plpy module: every _pyglite.jscall(op, ...args) from Python arrives here.
// The dispatcher never throws (the envelope rule): a PostgreSQL ERROR raised while serving an op is
// caught with PG_TRY emulation and handed back to Python as {pgerror: fields}; JS bugs likewise.
import { isLongjmp, PgError } from '../engine/elog.js'
import { ELEVEL, L } from '../engine/layout.js'
import { T } from '../plpython/codec.js'
import type { PlPythonRuntime } from '../plpython/runtime.js'

type Op = (rt: PlPythonRuntime, ...args: unknown[]) => unknown

function errorValue(e: PgError): { pgerror: Record<string, unknown> } {
  return { pgerror: { message: e.message, sqlstate: e.sqlstate, ...e.fields } }
}

const ops: Record<string, Op> = {
  /** plpy.debug/log/info/notice/warning(msg, detail=, hint=, …) */
  elog(rt, level, message, kwargs) {
    const kw = (kwargs ?? {}) as Record<string, string | undefined>
    const r = rt.elog.tryCatch(() =>
      rt.elog.report(Number(level), String(message), {
        detail: kw.detail,
        hint: kw.hint,
        sqlstate: kw.sqlstate,
        schema: kw.schema_name,
        table: kw.table_name,
        column: kw.column_name,
        datatype: kw.datatype_name,
        constraint: kw.constraint_name,
      }),
    )
    return r.ok ? null : errorValue(r.error)
  },

  /** plpy.execute(query, limit): rows as a list of dicts (codec ROWS) */
  execute(rt, query, limit) {
    const frame = rt.frame
    if (!frame) throw new PgError('plpy.execute called outside of a PL/Python call')
    rt.ensureSpi(frame)
    const h = rt.heap
    const M = h.M
    const r = rt.elog.tryCatch(() => {
      const rc = M._SPI_execute(
        h.pstrdup(String(query)),
        frame.readOnly ? 1 : 0,
        Number(limit ?? 0),
      ) as number
      if (rc < 0) throw new PgError(`SPI_execute failed: ${rt.spi.resultString(rc)}`)
      const w = rt.codec
      w.reset()
      const tt = h.u32at(M._SPI_tuptable)
      if (!tt) {
        w.header(T.ROWS, 0)
        w.u32(0)
        return w.view()
      }
      const tupdesc = h.u32at(tt + L.stt_tupdesc)
      const vals = h.u32at(tt + L.stt_vals)
      const natts = h.i32at(tupdesc + L.tupdesc_natts)
      const types: number[] = []
      w.header(T.ROWS, natts)
      for (let c = 1; c <= natts; c++) {
        const np = M._SPI_fname(tupdesc, c) as number
        w.text(h.str(np) ?? '')
        M._pfree(np)
        types.push((M._SPI_gettypeid(tupdesc, c) as number) >>> 0)
      }
      const n = h.u64at(tt + L.stt_numvals)
      w.u32(n)
      const isnull = h.M._malloc(4) as number
      for (let i = 0; i < n; i++) {
        const tup = h.u32at(vals + 4 * i)
        for (let c = 1; c <= natts; c++) {
          const d = M._SPI_getbinval(tup, tupdesc, c, isnull) as number
          rt.io.encode(w, d >>> 0, h.u8at(isnull) !== 0, types[c - 1]!)
        }
      }
      M._free(isnull)
      M._SPI_freetuptable(tt)
      return w.view() // decoded by the native side before anything else writes the codec
    }, true)
    return r.ok ? r.value : errorValue(r.error)
  },
}

/** Build the dispatcher for the Python host; `current` yields the runtime of the running statement. */
export function createDispatcher(current: () => PlPythonRuntime | undefined) {
  return (op: unknown, ...args: unknown[]): unknown => {
    try {
      const rt = current()
      if (!rt) return errorValue(new PgError('no statement is running'))
      const fn = ops[String(op)]
      if (!fn) return errorValue(new PgError(`unknown plpy operation ${String(op)}`))
      return fn(rt, ...args)
    } catch (e) {
      if (isLongjmp(e)) {
        // cannot happen: every op that enters wasm runs inside tryCatch. Never let it cross Python.
        return errorValue(
          new PgError('internal error: unexpected PostgreSQL error outside PG_TRY', { sqlstate: 'XX000' }),
        )
      }
      if (e instanceof PgError) return errorValue(e)
      return errorValue(new PgError(`internal error: ${(e as Error)?.message ?? String(e)}`))
    }
  }
}

export { ELEVEL }
