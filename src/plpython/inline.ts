// DO blocks and the validator (plpy_main.c plpython3_inline_handler / plpython3_validator): a DO block is
// a transient procedure compiled, run once (non-atomic when the block may COMMIT) and released; the
// validator runs PLy_procedure_create's checks and compiles the body so syntax errors show at CREATE.
import type { ProcRow } from '../catalog/procedures.js'
import { L, OID } from '../engine/pg/layout.js'
import type { PlPythonRuntime } from './runtime.js'

export function runInline(rt: PlPythonRuntime, fcinfo: number): number {
  const h = rt.heap
  const icb = h.u32at(fcinfo + L.fcinfo_args) // args[0]: InlineCodeBlock *
  const src = h.str(h.u32at(icb + L.icb_source_text)) ?? ''
  const atomic = h.u8at(icb + L.icb_atomic) !== 0
  const row: ProcRow = {
    oid: 0,
    name: 'inline_code_block',
    schema: '',
    src,
    rettype: OID.VOID,
    retset: false,
    kind: 'f',
    volatility: 'v',
    argtypes: [],
    argnames: [],
    allargtypes: null,
    argmodes: null,
    allargnames: null,
    rettyptype: 'p',
    rettypname: 'void',
    version: '',
  }
  const p = rt.procs.compile(row, rt.session, true)
  try {
    rt.invoke(p, fcinfo, !atomic) // SPI_connect_ext(codeblock->atomic ? 0 : SPI_OPT_NONATOMIC)
  } finally {
    rt.host.native.releaseProc(p.procId)
  }
  return 0
}

export function runValidator(rt: PlPythonRuntime, fcinfo: number): number {
  const h = rt.heap
  const M = h.M
  const oid = h.u32at(fcinfo + L.fcinfo_args)
  const flinfo = h.u32at(fcinfo + L.fcinfo_flinfo)
  const validatorOid = h.u32at(flinfo + L.fl_fn_oid)
  if (!M._CheckFunctionValidatorAccess(validatorOid, oid)) return 0
  // plpythonu's validator (plpython3u's is plpython3_validator)
  if (h.str(M._get_func_name(validatorOid)) === 'plpython_validator') storeAsPlpython3u(rt, oid)
  const check = h.str(M._GetConfigOption(h.cstr('check_function_bodies'), 0, 0))
  if (check === 'off') return 0 // (a restore may create functions that cannot run here)
  rt.checkEncoding()
  rt.procs.validate(rt.procs.read(oid), rt.session)
  return 0
}

/**
 * A function created with `LANGUAGE plpythonu` (bridge.ts PLPYTHONU_SQL) is stored as plpython3u, the
 * language it runs in: pg_dump then writes plpython3u, which PostgreSQL 15+ has. ProcedureCreate calls the
 * validator after the pg_proc row and its pg_depend entry on the language exist (pg_proc.c), so both are
 * re-pointed here, in the same transaction as the CREATE.
 */
function storeAsPlpython3u(rt: PlPythonRuntime, oid: number): void {
  const spi = rt.spi
  spi.connect()
  const lang = (name: string) => `(SELECT oid FROM pg_catalog.pg_language WHERE lanname = '${name}')`
  const r = spi.queryText(
    `SELECT 1 FROM pg_catalog.pg_proc WHERE oid = ${oid} AND prolang = ${lang('plpythonu')} AND ${lang('plpython3u')} IS NOT NULL`,
    false, // not read-only: a fresh snapshot sees the row the CREATE just made
  )
  if (r.rows.length > 0) {
    spi.queryText(`UPDATE pg_catalog.pg_proc SET prolang = ${lang('plpython3u')} WHERE oid = ${oid}`, false)
    spi.queryText(
      `UPDATE pg_catalog.pg_depend SET refobjid = ${lang('plpython3u')}
       WHERE classid = 'pg_catalog.pg_proc'::regclass AND objid = ${oid}
         AND refclassid = 'pg_catalog.pg_language'::regclass AND refobjid = ${lang('plpythonu')}`,
      false,
    )
  }
  spi.finish()
}
