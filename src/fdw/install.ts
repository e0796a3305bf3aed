// The multicorn extension in a PGlite instance: multicorn.so (a side module whose multicorn_handler and
// multicorn_validator have JavaScript bodies, jsexports.ts), its control and SQL files under the names
// multicorn2 uses (so DDL and pg_dump output move between pyglite and PostgreSQL + multicorn2), and the
// FdwRoutine the handler returns: one JS function per callback, entered as the language bridge enters
// Python (no JS exception escapes into wasm; PGlite's protocol is not re-entered meanwhile).
import type { Bridge } from '../engine/pg/bridge.js'
import { EXT_DIR, LIB_DIR } from '../engine/pg/bridge.js'
import { isLongjmp, PgError } from '../engine/pg/elog.js'
import type { Heap } from '../engine/pg/heap.js'
import { buildJsModule, type JsFunction, loadJsModule } from '../engine/pg/jsexports.js'
import { CATALOG_OID, FL, L, FDW_NODETAG as T } from '../engine/pg/layout.js'
import { pgMagic } from '../engine/pg/sidemodule.js'
import type { PlRuntime } from '../python/language.js'
import { FdwContext } from './context.js'
import { Modifier } from './modify.js'
import { listItems } from './nodes.js'
import { Planner } from './planner.js'
import { Scans } from './scan.js'
import { importSchema, Transactions } from './xact.js'

const CONTROL = `# multicorn: foreign tables served by Python classes (pyglite's Multicorn-compatible wrapper)
comment = 'Multicorn2 Python3.9+ bindings for Postgres 14++ Foreign Data Wrapper'
default_version = '3.2'
module_pathname = '$libdir/multicorn'
relocatable = true
`
const SCRIPT = `\\echo Use "CREATE EXTENSION multicorn" to load this file. \\quit
CREATE FUNCTION multicorn_validator(text[], oid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION multicorn_handler() RETURNS fdw_handler AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER multicorn VALIDATOR multicorn_validator HANDLER multicorn_handler;
`

/** The callbacks the handler fills in: slot offset in FdwRoutine, wasm signature. */
const CALLBACKS: Array<[keyof typeof FL, string]> = [
  ['fdw_GetForeignRelSize', 'viii'],
  ['fdw_GetForeignPaths', 'viii'],
  ['fdw_GetForeignPlan', 'iiiiiiii'],
  ['fdw_BeginForeignScan', 'vii'],
  ['fdw_IterateForeignScan', 'ii'],
  ['fdw_ReScanForeignScan', 'vi'],
  ['fdw_EndForeignScan', 'vi'],
  ['fdw_ExplainForeignScan', 'vii'],
  ['fdw_AddForeignUpdateTargets', 'viiii'],
  ['fdw_PlanForeignModify', 'iiiii'],
  ['fdw_BeginForeignModify', 'viiiii'],
  ['fdw_ExecForeignInsert', 'iiiii'],
  ['fdw_ExecForeignBatchInsert', 'iiiiii'],
  ['fdw_GetForeignModifyBatchSize', 'ii'],
  ['fdw_ExecForeignUpdate', 'iiiii'],
  ['fdw_ExecForeignDelete', 'iiiii'],
  ['fdw_EndForeignModify', 'vii'],
  ['fdw_BeginForeignInsert', 'vii'],
  ['fdw_EndForeignInsert', 'vii'],
  ['fdw_ImportForeignSchema', 'iii'],
]

export class ForeignData {
  private readonly cx: FdwContext
  private readonly planner: Planner
  private readonly scans: Scans
  private readonly modifier: Modifier
  private readonly xact: Transactions
  /** table indexes of the callbacks, by FdwRoutine offset */
  private readonly slots = new Map<number, number>()

  constructor(
    private readonly heap: Heap,
    private readonly bridge: Bridge,
    rt: PlRuntime,
  ) {
    this.cx = new FdwContext(heap, rt)
    this.planner = new Planner(this.cx)
    this.scans = new Scans(this.cx)
    this.modifier = new Modifier(this.cx)
    this.xact = new Transactions(this.cx)
  }

  /** Write the extension's files and load multicorn.so (its symbols resolve when PostgreSQL dlopens it). */
  async install(): Promise<void> {
    const h = this.heap
    const M = h.M
    const FS = M.FS
    if (!FS.analyzePath(EXT_DIR).exists) FS.mkdirTree(EXT_DIR)
    FS.writeFile(`${EXT_DIR}/multicorn.control`, CONTROL)
    FS.writeFile(`${EXT_DIR}/multicorn--3.2.sql`, SCRIPT)
    const magic = M._malloc(64) as number
    h.write(magic, new Uint8Array(pgMagic()))
    const finfo = M._malloc(4) as number
    h.setU32(finfo, 1) // Pg_finfo_record { api_version = 1 }
    const fns: JsFunction[] = [
      { name: 'Pg_magic_func', params: 0, returns: true, body: () => magic },
      { name: 'pg_finfo_multicorn_handler', params: 0, returns: true, body: () => finfo },
      { name: 'pg_finfo_multicorn_validator', params: 0, returns: true, body: () => finfo },
      { name: 'multicorn_handler', params: 1, returns: true, body: () => this.enter(() => this.handler()) },
      {
        name: 'multicorn_validator',
        params: 1,
        returns: true,
        body: (fcinfo: number) => this.enter(() => this.validator(fcinfo)),
      },
    ]
    loadJsModule(h, `${LIB_DIR}/multicorn.so`, await buildJsModule(fns), fns)
    const c = this.cx
    const impl: Record<string, (...a: number[]) => number | undefined> = {
      fdw_GetForeignRelSize: (root, rel, ftid) => void this.planner.relSize(root!, rel!, ftid!),
      fdw_GetForeignPaths: (root, rel) => void this.planner.paths(root!, rel!),
      fdw_GetForeignPlan: (_r, rel, _f, best, tl, sc, outer) =>
        this.planner.plan(rel!, best!, tl!, sc!, outer!),
      fdw_BeginForeignScan: (node, eflags) => void this.scans.begin(node!, eflags!),
      fdw_IterateForeignScan: (node) => this.scans.iterate(node!),
      fdw_ReScanForeignScan: (node) => void this.scans.rescan(node!),
      fdw_EndForeignScan: (node) => void this.scans.end(node!),
      fdw_ExplainForeignScan: (node, es) => void this.scans.explain(node!, es!),
      fdw_AddForeignUpdateTargets: (root, rti, _rte, rel) => void this.modifier.addTargets(root!, rti!, rel!),
      fdw_PlanForeignModify: () => 0,
      fdw_BeginForeignModify: (mt, rinfo, _p, _i, eflags) => void this.modifier.begin(mt!, rinfo!, eflags!),
      fdw_ExecForeignInsert: (_e, rinfo, slot) => this.modifier.insert(rinfo!, slot!),
      fdw_ExecForeignBatchInsert: (_e, rinfo, slots, _p, n) => this.modifier.batchInsert(rinfo!, slots!, n!),
      fdw_GetForeignModifyBatchSize: (rinfo) => this.modifier.batchSize(rinfo!),
      fdw_ExecForeignUpdate: (_e, rinfo, slot, plan) => this.modifier.update(rinfo!, slot!, plan!),
      fdw_ExecForeignDelete: (_e, rinfo, slot, plan) => this.modifier.remove(rinfo!, slot!, plan!),
      fdw_EndForeignModify: (_e, rinfo) => void this.modifier.end(rinfo!),
      // COPY FROM and rows routed into a foreign partition: the same inserts, begun and ended here
      fdw_BeginForeignInsert: (mt, rinfo) => void this.modifier.begin(mt!, rinfo!, 0),
      fdw_EndForeignInsert: (_e, rinfo) => void this.modifier.end(rinfo!),
      fdw_ImportForeignSchema: (stmt, srv) => importSchema(c, stmt!, srv!),
    }
    for (const [off, sig] of CALLBACKS) {
      const f = impl[off]!
      const slot = M.addFunction((...a: number[]) => this.enter(() => f(...a)), sig)
      this.slots.set(FL[off], slot)
    }
    this.xact.register((body) => this.enter(body))
  }

  /** The wasm → JS entry of every callback: a JS exception becomes an ERROR; a longjmp passes through. */
  private enter<R>(body: () => R): R {
    this.bridge.depth++
    try {
      return body()
    } catch (e) {
      if (isLongjmp(e)) throw e
      this.bridge.elog.raiseJs(e, 'multicorn')
    } finally {
      this.bridge.depth--
    }
  }

  /** multicorn_handler(): a new FdwRoutine (makeNode) pointing at the callbacks. */
  private handler(): number {
    const h = this.heap
    const r = h.M._palloc0(FL.fdw_size) as number
    h.setU32(r, T.FdwRoutine)
    for (const [off, slot] of this.slots) h.setU32(r + off, slot)
    return r
  }

  /**
   * multicorn_validator(options text[], catalog oid): `wrapper` belongs on the server (multicorn2 refuses
   * it on a table), a server must name a class that imports, and only a superuser may name one: the class
   * is arbitrary code run inside the server, as for untrusted languages.
   */
  private validator(fcinfo: number): number {
    const h = this.heap
    const M = h.M
    const arg = fcinfo + L.fcinfo_args
    const catalog = h.u32at(arg + L.nd_size + L.nd_value)
    let wrapper: string | null = null
    for (const def of listItems(h, M._untransformRelOptions(h.u32at(arg + L.nd_value)) as number)) {
      const name = h.str(h.u32at(def + FL.defelem_defname))
      // the short form's code (multicorn.pyfunc) must be a superuser's: only on servers
      if (name === 'code' && (catalog === CATALOG_OID.ForeignTable || catalog === CATALOG_OID.UserMapping))
        throw new PgError('Cannot set the code option on a foreign table or a user mapping', {
          sqlstate: 'HV00D',
          hint: 'Set it on the server (only superusers may create one).',
        })
      if (name !== 'wrapper') continue
      if (catalog === CATALOG_OID.ForeignTable)
        throw new PgError('Cannot set the wrapper class on the table', {
          sqlstate: 'HV00D',
          hint: 'Set it on the server',
        })
      const a = h.u32at(def + FL.defelem_arg)
      wrapper = a ? h.str(h.u32at(a + FL.string_sval)) : ''
    }
    if (catalog === CATALOG_OID.ForeignServer) {
      if (wrapper === null)
        throw new PgError('The wrapper parameter is mandatory, specify a valid class name', {
          sqlstate: 'HV00D',
        })
      if (!M._superuser())
        throw new PgError('permission denied to name a Python class as a multicorn wrapper', {
          sqlstate: '42501',
          detail: `The wrapper option names the class "${wrapper}", whose code runs inside the server.`,
          hint: 'Only superusers may create or alter a server of the multicorn foreign-data wrapper.',
        })
      this.cx.py.call('validate_class', wrapper)
    }
    return 1
  }
}

/** Install the multicorn extension's files and callbacks into one instance. */
export async function installForeignData(heap: Heap, bridge: Bridge, rt: PlRuntime): Promise<ForeignData> {
  const fd = new ForeignData(heap, bridge, rt)
  await fd.install()
  return fd
}
