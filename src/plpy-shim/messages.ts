// plpy.debug … plpy.warning, plpy.fatal and plpy.quote_* in the engine (PLy_output, PLy_quote_* in
// plpy_plpymodule.c). Messages are ereport()ed at once: errstart applies client_min_messages and
// log_min_messages, and the backend flushes each message to the client as it is sent.
import type { PgErrorFields } from '../engine/pg/elog.js'
import type { PlRuntime } from '../python/language.js'
import { requestFatal } from './fatal.js'
import { outcome } from './spi.js'

export const messageOps = {
  /** plpy.debug/log/info/notice/warning(msg, detail=, hint=, sqlstate=, schema_name=, …) */
  elog(rt: PlRuntime, level: unknown, message: unknown, fields: unknown) {
    const f = (fields ?? {}) as PgErrorFields
    return outcome(rt.elog.tryCatch(() => rt.elog.report(Number(level), String(message), f, 'output')))
  },

  /** plpy.fatal(msg, …): recorded; the Python side then unwinds (see fatal.ts) */
  fatal(rt: PlRuntime, message: unknown, fields: unknown) {
    requestFatal(rt, String(message), (fields ?? {}) as Record<string, string>)
    return null
  },

  /** quote_literal_cstr (kind 0) or quote_identifier (kind 1) of the backend, so keywords, encoding and
   * quote_all_identifiers are PostgreSQL's own */
  quote(rt: PlRuntime, kind: unknown, s: unknown) {
    const h = rt.heap
    const M = h.M
    return outcome(
      rt.elog.tryCatch(() => {
        const p = h.pstrdup(String(s))
        return h.str((kind === 1 ? M._quote_identifier(p) : M._quote_literal_cstr(p)) as number)
      }),
    )
  },
}
