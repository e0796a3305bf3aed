// The compiled-procedure cache (plpy_procedure.c): per client session and function OID, a procedure is
// compiled once (PLy_procedure_create's type checks, munged `def`, argument and result converters chosen
// once) and reused until its pg_proc row changes. Validity is checked against the catalog only when a
// pg_proc invalidation has arrived since (CatalogWatch), then by the row version (xmin:ctid).
import { type ProcRow, readProc } from '../catalog/procedures.js'
import type { TypeCatalog } from '../catalog/types.js'
import type { CatalogWatch } from '../engine/pg/catalogwatch.js'
import { type Elog, PgError } from '../engine/pg/elog.js'
import { OID } from '../engine/pg/layout.js'
import type { Spi } from '../engine/pg/spi.js'
import type { ErrorTuple, PythonHost } from './host.js'
import type { Encoder } from './input.js'
import type { Builder, OutputConverters, PyDesc } from './output.js'
import { FROM_SQL, NUMPY, TO_SQL, type TransformMap } from './transforms.js'

/** Argument kinds read natively (native/call/call.c A_*); anything else goes through the codec. */
export const ARG_KIND: Record<number, number> = {
  [OID.INT2]: 1,
  [OID.INT4]: 2,
  [OID.INT8]: 3,
  [OID.FLOAT4]: 4,
  [OID.FLOAT8]: 5,
  [OID.BOOL]: 6,
  [OID.OID]: 7,
  [OID.TEXT]: 8,
  [OID.VARCHAR]: 8,
  [OID.BPCHAR]: 8,
  [OID.BYTEA]: 9,
}
export const A_CODEC = 0
export const A_VARLENA = [8, 9]

/** Result kinds converted natively (R_*); 0 goes through the procedure's Python converter. */
const RET_KIND: Record<number, number> = {
  [OID.VOID]: 1,
  [OID.INT2]: 2,
  [OID.INT4]: 3,
  [OID.INT8]: 4,
  [OID.FLOAT8]: 6,
  [OID.BOOL]: 7,
  [OID.TEXT]: 8,
  [OID.VARCHAR]: 8,
  [OID.OID]: 9,
}

export interface Procedure {
  /** position in the table: the value kept in fn_extra */
  index: number
  sid: number
  oid: number
  version: string
  /** CatalogWatch.procGen when the row was last checked */
  procGen: number
  procId: number
  row: ProcRow
  isProcedure: boolean
  contextText: string
  /** no codec arguments, a fixed result type that no catalog change can alter: runtime.invokePlain */
  plain: boolean
  /** the result is text/varchar converted natively (RET_KIND 8): JS reserves its chunk before the call */
  textResult: boolean
  /** argument indexes that go through the codec */
  codecArgs: number[]
  argkinds: number[]
  /** RETURNS record (columns known per call site), or the fixed result type */
  recordResult: boolean
  /** the descriptor the Python converter currently uses, and the catalog generation it was made at */
  descJson: string
  descGen: number
  /** the descriptor contains composites (re-made when the catalog changes) */
  descDependsOnCatalog: boolean
  /** typmod of the record type the converter is set for (RECORD results), -2 = none */
  recTypmod: number
  /** the Datum builder for results (cached; valid for builderGen/builderTypmod) */
  builder?: Builder
  builderGen: number
  builderTypmod: number
  valid: boolean
  /** TRANSFORM FOR TYPE: type → FROM SQL / TO SQL function symbol (transforms.ts); absent without any */
  fromSql?: TransformMap
  toSql?: TransformMap
  /** the codec arguments' encoders under fromSql (runtime.ts fills it at the first call; undefined: none applies) */
  argEncoders?: Array<Encoder | undefined>
}

/** The procedure's transforms whose functions this handler implements, one direction (undefined if none). */
function transformMap(row: ProcRow, dir: 'fromSql' | 'toSql'): TransformMap | undefined {
  const known: readonly string[] = dir === 'fromSql' ? FROM_SQL : TO_SQL
  const m: TransformMap = new Map()
  for (const t of row.transforms ?? []) {
    // numpy_plpython3u: the element type's transform opts its array type in, both ways (transforms.ts)
    const numpy = t.fromSql ? NUMPY[t.fromSql] : undefined
    if (numpy) m.set(numpy.array, t.fromSql as string)
    const f = t[dir]
    if (f && known.includes(f)) m.set(t.type, f)
  }
  return m.size ? m : undefined
}

function dependsOnCatalog(d: PyDesc): boolean {
  if (d.k === 'r') return true
  if (d.k === 'a') return dependsOnCatalog(d.e)
  return false
}

export class ProcedureCache {
  /** index → procedure; slot 0 means "not cached" in fn_extra */
  private readonly table: Array<Procedure | undefined> = [undefined]
  private readonly free: number[] = []
  private readonly bySession = new Map<number, Map<number, Procedure>>()
  /** trigger procedures per session, keyed "function oid:relation oid" */
  private readonly byTrigger = new Map<number, Map<string, Procedure>>()

  constructor(
    private readonly spi: Spi,
    private readonly elog: Elog,
    private readonly watch: CatalogWatch,
    private readonly types: TypeCatalog,
    private readonly out: OutputConverters,
    private readonly host: PythonHost,
  ) {}

  /** The cached procedure at fn_extra index i, if it is still valid for this session and function. */
  at(i: number, sid: number, oid: number): Procedure | undefined {
    const p = i < this.table.length ? this.table[i] : undefined
    return p?.valid && p.sid === sid && p.oid === oid && p.procGen === this.watch.procGen ? p : undefined
  }

  /** PLy_procedure_get: the session's compiled procedure for `oid`, compiling it if needed. */
  get(sid: number, oid: number): Procedure {
    return this.lookup(this.bySession, sid, oid, oid)
  }

  /**
   * PLy_procedure_get for a trigger call: PL/Python caches trigger procedures per (function, relation),
   * each compiled on its own (own globals, own SD), and revalidates them against the pg_proc row as
   * functions are.
   */
  getTrigger(sid: number, oid: number, relid: number): Procedure {
    return this.lookup(this.byTrigger, sid, `${oid >>> 0}:${relid >>> 0}`, oid, relid)
  }

  /**
   * The cached procedure under `key` in the session's map, revalidated against its pg_proc row when the
   * catalog changed (kept if the row's version is the same), else compiled anew (as a trigger for `relid`).
   */
  private lookup<K>(
    bySid: Map<number, Map<K, Procedure>>,
    sid: number,
    key: K,
    oid: number,
    relid?: number,
  ): Procedure {
    let m = bySid.get(sid)
    const old = m?.get(key)
    if (old?.valid && old.procGen === this.watch.procGen) return old
    const gen = this.watch.procGen
    const row = this.read(oid)
    if (old?.valid && old.version === row.version) {
      old.procGen = gen
      return old
    }
    if (old) this.retire(old)
    const p = this.compile(row, sid, false, gen, relid !== undefined, relid ?? 0)
    if (!m) {
      m = new Map()
      bySid.set(sid, m)
    }
    m.set(key, p)
    return p
  }

  /** The pg_proc row of `oid` (SPI; raises "cache lookup failed" if it is gone). */
  read(oid: number): ProcRow {
    this.spi.connect()
    let row: ProcRow | null
    try {
      row = readProc(this.spi, oid)
    } finally {
      this.spi.finish()
    }
    if (!row) throw new PgError(`cache lookup failed for function ${oid >>> 0}`)
    return row
  }

  /**
   * PLy_procedure_create's checks: no pseudo-type arguments, no pseudo-type result except void and
   * record (trigger functions only as triggers). `asTrigger`: the function is being set up as a trigger.
   */
  check(row: ProcRow, asTrigger: boolean): void {
    if (!asTrigger) {
      const rt = this.types.get(row.rettype)
      if (rt.typtype === 'p' && row.rettype !== OID.VOID && row.rettype !== OID.RECORD) {
        if (row.rettype === OID.TRIGGER || row.rettype === OID.EVENT_TRIGGER)
          throw new PgError('trigger functions can only be called as triggers', { sqlstate: '0A000' })
        throw new PgError(`PL/Python functions cannot return type ${this.types.format(row.rettype)}`, {
          sqlstate: '0A000',
        })
      }
    }
    for (const t of row.argtypes) {
      if (this.types.get(t).typtype === 'p')
        throw new PgError(`PL/Python functions cannot accept type ${this.types.format(t)}`, {
          sqlstate: '0A000',
        })
    }
  }

  /** Compile a procedure for a session (transient: a DO block, released by the caller). */
  compile(
    row: ProcRow,
    sid: number,
    transient: boolean,
    gen = this.watch.procGen,
    asTrigger = false,
    triggerRelid = 0,
  ): Procedure {
    if (row.oid !== 0) this.check(row, asTrigger)
    const isProcedure = row.kind === 'p'
    const argkinds = row.argtypes.map((t) => ARG_KIND[t] ?? A_CODEC)
    const recordResult = row.rettype === OID.RECORD && !asTrigger
    let desc: PyDesc
    const fromSql = transformMap(row, 'fromSql')
    const toSql = transformMap(row, 'toSql')
    if (asTrigger) desc = { k: 'R' }
    else if (row.rettype === OID.VOID) desc = { k: 'v', p: isProcedure }
    else desc = this.out.pyDesc(row.rettype, -1, toSql)
    const descJson = JSON.stringify(desc)
    const retkind = recordResult || asTrigger ? 0 : (RET_KIND[row.rettype] ?? 0)
    const r = this.host.compile({
      sid,
      key: transient
        ? `do:${sid}`
        : asTrigger
          ? `${sid}:${row.oid}:${triggerRelid >>> 0}`
          : `${sid}:${row.oid}`,
      oid: row.oid,
      name: row.name,
      src: row.src,
      argnames: row.argnames,
      argkinds,
      retkind,
      result: descJson,
      transient,
      kind: row.oid === 0 ? 'inline' : isProcedure ? 'procedure' : 'function',
      pyname: row.oid === 0 ? '__plpython_inline_block' : undefined,
    })
    if (typeof r !== 'number') this.raiseCompile(r)
    const index = transient ? 0 : (this.free.pop() ?? this.table.length)
    const p: Procedure = {
      index,
      sid,
      oid: row.oid,
      version: row.version,
      procGen: gen,
      procId: r,
      row,
      isProcedure,
      contextText:
        row.oid === 0
          ? 'PL/Python anonymous code block'
          : `PL/Python ${isProcedure ? 'procedure' : 'function'} "${row.name}"`,
      textResult: retkind === RET_KIND[OID.TEXT],
      plain: !recordResult && !dependsOnCatalog(desc) && !argkinds.includes(A_CODEC) && !isProcedure,
      codecArgs: argkinds.flatMap((k, i) => (k === A_CODEC ? [i] : [])),
      argkinds,
      recordResult,
      descJson,
      descGen: this.out.generation,
      descDependsOnCatalog: dependsOnCatalog(desc),
      recTypmod: -2,
      builderGen: -1,
      builderTypmod: -2,
      valid: true,
      fromSql,
      toSql,
    }
    if (!transient) this.table[index] = p
    return p
  }

  /** Before a call: re-make the result descriptor if a composite it contains may have changed. */
  refreshDesc(p: Procedure): void {
    if (!p.descDependsOnCatalog || p.descGen === this.out.generation || p.recordResult) return
    p.descGen = this.out.generation
    const json = JSON.stringify(this.out.pyDesc(p.row.rettype, -1, p.toSql))
    if (json !== p.descJson) this.setDesc(p, json)
  }

  /** Point the procedure's Python converter at another descriptor. */
  setDesc(p: Procedure, json: string): void {
    p.descJson = json
    const err = this.host.setResultDesc(p.procId, json)
    if (err) this.raiseCompile(err)
  }

  /** Validator: the checks and a compile in a throw-away namespace (syntax errors at CREATE FUNCTION). */
  validate(row: ProcRow, sid: number): void {
    // plpython3_validator: only `RETURNS trigger` is set up as a trigger (event triggers are refused)
    this.check(row, row.rettype === OID.TRIGGER)
    const err = this.host.validate({ sid, oid: row.oid, name: row.name, src: row.src })
    if (err) this.raiseCompile(err)
  }

  private retire(p: Procedure): void {
    p.valid = false
    if (p.index) {
      this.table[p.index] = undefined
      this.free.push(p.index)
    }
  }

  /** Forget a closed session's procedures (their Python side is dropped by the host). */
  dropSession(sid: number): void {
    for (const map of [this.bySession, this.byTrigger] as Array<Map<number, Map<unknown, Procedure>>>) {
      const m = map.get(sid)
      if (!m) continue
      for (const p of m.values()) this.retire(p)
      map.delete(sid)
    }
  }

  private raiseCompile(t: ErrorTuple): never {
    const s = (i: number) => (t[i] == null ? null : String(t[i]))
    this.elog.raise(s(0) ?? 'could not compile PL/Python function', {
      sqlstate: s(1) ?? '38000',
      detail: s(2),
      hint: s(3),
      context: s(4),
    })
  }
}
