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
  if (!M._CheckFunctionValidatorAccess(h.u32at(flinfo + L.fl_fn_oid), oid)) return 0
  const check = h.str(M._GetConfigOption(h.cstr('check_function_bodies'), 0, 0))
  if (check === 'off') return 0
  rt.procs.validate(rt.procs.read(oid), rt.session)
  return 0
}
