// Trigger sites: everything PL/Python sets up once per trigger call site rather than per row
// (plpy_main.c / plpy_procedure.c / PLy_exec_trigger's setup): the procedure compiled for this function
// and relation, the relation's columns with their conversion kinds, TD's constant values, and the native
// shape made from them. A site is keyed by session, function, relation and trigger. The FmgrInfo of the
// call (one per trigger per statement) points at it through fn_extra, so the rows of a statement find
// it without a lookup. It is re-checked when pg_proc, pg_type or a relation changes, as PL/Python
// re-checks its procedure and the relation's descriptor on every call.
import type { Heap } from '../engine/pg/heap.js'
import { L, OID } from '../engine/pg/layout.js'
import type { Encoder } from '../python/input.js'
import type { PlRuntime } from '../python/language.js'
import type { Builder } from '../python/output.js'
import { A_CODEC, A_VARLENA, ARG_KIND, type Procedure } from '../python/procedures.js'
import { F, OUT, type TriggerNative } from './native.js'

/** One column of the triggering relation, as the per-row path needs it. */
export interface Column {
  typid: number
  typmod: number
  /** native input kind (ARG_KIND) or A_CODEC */
  inkind: number
  flags: number
  /** for A_CODEC columns: how JS encodes the value for TD (resolved once per site) */
  encoder: Encoder | null
  /** how a generic MODIFY value becomes a Datum (made on first use; valid while the site is) */
  builder: Builder | null
}

export interface Site {
  /** position in the site table: the value kept in fn_extra */
  index: number
  key: string
  sid: number
  fnoid: number
  /** what it was last validated against */
  rel: number
  desc: number
  trigger: number
  procGen: number
  outGen: number
  proc: Procedure
  /** native shape id and the spec it was made from */
  shape: number
  specJson: string
  natts: number
  cols: Column[]
  /** attributes whose TD values JS encodes (codec kinds), and text/bytea ones (detoasted on demand) */
  codecCols: number[]
  varlenaCols: number[]
}

/** TD["new"] values converted without the generic converter, by exact column type. */
const OUT_KIND: Record<number, number> = {
  [OID.INT2]: OUT.INT2,
  [OID.INT4]: OUT.INT4,
  [OID.INT8]: OUT.INT8,
  [OID.FLOAT8]: OUT.FLOAT8,
  [OID.BOOL]: OUT.BOOL,
  [OID.TEXT]: OUT.TEXT,
  [OID.OID]: OUT.OID,
}

/**
 * Types whose Datum → Python → Datum round trip gives back the same Datum whatever the session's
 * settings: an unchanged value of such a column need not be converted back for MODIFY.
 */
const ROUNDTRIP = new Set<number>([
  OID.INT2,
  OID.INT4,
  OID.INT8,
  OID.FLOAT4,
  OID.FLOAT8,
  OID.BOOL,
  OID.OID,
  OID.TEXT,
  OID.VARCHAR,
  OID.BPCHAR,
  OID.BYTEA,
])

export class SiteCache {
  private readonly table: Array<Site | undefined> = [undefined]
  private readonly free: number[] = []
  private readonly byKey = new Map<string, Site>()
  private readonly heap: Heap

  constructor(
    private readonly rt: PlRuntime,
    private readonly native: TriggerNative,
  ) {
    this.heap = rt.heap
  }

  /** The site of this trigger call (TriggerData td, FmgrInfo flinfo), validated for the current row. */
  resolve(flinfo: number, rel: number, trig: number): Site {
    const h = this.heap
    const rt = this.rt
    const extra = h.u32at(flinfo + L.fl_fn_extra)
    const s = extra !== 0 && extra < this.table.length ? this.table[extra] : undefined
    if (
      s &&
      s.rel === rel &&
      s.trigger === trig &&
      s.sid === rt.session &&
      s.procGen === rt.watch.procGen &&
      s.outGen === rt.out.generation &&
      s.proc.valid &&
      s.fnoid === h.u32at(flinfo + L.fl_fn_oid)
    )
      return s
    const site = this.lookup(flinfo, rel, trig)
    h.setU32(flinfo + L.fl_fn_extra, site.index)
    return site
  }

  private lookup(flinfo: number, rel: number, trig: number): Site {
    const h = this.heap
    const rt = this.rt
    const sid = rt.session
    const fnoid = h.u32at(flinfo + L.fl_fn_oid)
    const relid = h.u32at(rel + L.rel_rd_id)
    const desc = h.u32at(rel + L.rel_rd_att)
    const key = `${sid}:${fnoid}:${relid}:${h.u32at(trig + L.tg_tgoid)}`
    let s = this.byKey.get(key)
    if (
      s &&
      s.procGen === rt.watch.procGen &&
      s.outGen === rt.out.generation &&
      s.proc.valid &&
      s.desc === desc
    ) {
      s.rel = rel
      s.trigger = trig
      return s
    }
    // PLy_procedure_get(fn_oid, relid, true): compiled per (function, relation)
    const proc = rt.procs.getTrigger(sid, fnoid, relid)
    const spec = this.spec(rel, trig, desc, proc)
    const specJson = JSON.stringify(spec.json)
    if (!s) {
      const index = this.free.pop() ?? this.table.length
      s = {
        index,
        key,
        sid,
        fnoid,
        rel,
        desc,
        trigger: trig,
        procGen: 0,
        outGen: 0,
        proc,
        shape: 0,
        specJson: '',
        natts: 0,
        cols: [],
        codecCols: [],
        varlenaCols: [],
      }
      this.table[index] = s
      this.byKey.set(key, s)
    }
    if (s.shape === 0 || s.proc !== proc || s.specJson !== specJson) {
      if (s.shape) this.native.trigRelease(s.shape)
      s.shape = 0
      s.shape = this.native.trigSetup(proc.procId, specJson)
    }
    s.proc = proc
    s.specJson = specJson
    s.rel = rel
    s.desc = desc
    s.trigger = trig
    s.procGen = rt.watch.procGen
    s.outGen = rt.out.generation
    s.natts = spec.cols.length
    s.cols = spec.cols
    s.codecCols = spec.cols.flatMap((c, i) =>
      c.inkind === A_CODEC && !(c.flags & (F.DROPPED | F.GEN_VIRTUAL)) ? [i] : [],
    )
    s.varlenaCols = spec.cols.flatMap((c, i) =>
      A_VARLENA.includes(c.inkind) && !(c.flags & (F.DROPPED | F.GEN_VIRTUAL)) ? [i] : [],
    )
    return s
  }

  /** The columns and TD constants of a trigger on a relation (PLy_input/output_setup_tuple, TD setup). */
  private spec(rel: number, trig: number, desc: number, proc: Procedure): { json: object; cols: Column[] } {
    const h = this.heap
    const M = h.M
    const rt = this.rt
    const relid = h.u32at(rel + L.rel_rd_id)
    const rd = rt.tuples.readDesc(desc)
    const cols: Column[] = []
    const jcols: Array<[string, number, number, number, string]> = []
    for (const a of rd.attrs) {
      let flags = 0
      if (a.dropped) flags |= F.DROPPED
      if (a.generated === 's') flags |= F.GEN_STORED
      if (a.generated === 'v') flags |= F.GEN_VIRTUAL
      let inkind = A_CODEC
      let outkind: number = OUT.GENERIC
      let desc = '{"k":"s"}'
      if (!a.dropped) {
        const t = rt.types.get(a.typid)
        // domains convert to Python as their base type (PLy_input_setup_func)
        const base = t.typtype === 'd' ? rt.types.base(a.typid, a.typmod).oid : a.typid
        inkind = ARG_KIND[base] ?? A_CODEC
        outkind = OUT_KIND[a.typid] ?? (a.typid === OID.VARCHAR && a.typmod < 0 ? OUT.TEXT : OUT.GENERIC)
        if (ROUNDTRIP.has(a.typid)) flags |= F.ROUNDTRIP
        desc = JSON.stringify(rt.outputDescriptor(a.typid, a.typmod, proc.toSql))
      }
      // TD["new"]/TD["old"] under the function's TRANSFORM FOR TYPE, as PLy_input_setup_tuple with proc
      const trf = !a.dropped && proc.fromSql ? rt.io.transformEncoder(a.typid, proc.fromSql) : undefined
      const encoder = inkind === A_CODEC && !a.dropped ? (trf ?? rt.io.encoder(a.typid)) : null
      cols.push({ typid: a.typid, typmod: a.typmod, inkind, flags, encoder, builder: null })
      jcols.push([a.name, inkind, outkind, flags, desc])
    }
    const nargs = h.i16at(trig + L.tg_tgnargs)
    const argv = h.u32at(trig + L.tg_tgargs)
    const args: string[] = []
    for (let i = 0; i < nargs; i++) args.push(h.str(h.u32at(argv + 4 * i)) ?? '')
    const nsp = M._get_namespace_name(M._get_rel_namespace(relid)) as number
    const schema = h.str(nsp) ?? ''
    if (nsp) M._pfree(nsp)
    return {
      cols,
      json: {
        cols: jcols,
        name: h.str(h.u32at(trig + L.tg_tgname)) ?? '',
        relid: String(relid >>> 0),
        table_name: h.str(h.u32at(rel + L.rel_rd_rel) + L.pgclass_relname) ?? '',
        table_schema: schema,
        args: nargs > 0 ? args : null,
      },
    }
  }

  /** A client session ended: forget its sites and their shapes. */
  dropSession(sid: number): void {
    for (const [key, s] of this.byKey) {
      if (s.sid !== sid) continue
      if (s.shape) this.native.trigRelease(s.shape)
      this.byKey.delete(key)
      this.table[s.index] = undefined
      this.free.push(s.index)
    }
  }
}
