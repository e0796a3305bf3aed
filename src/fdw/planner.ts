// Planning a foreign scan (fdwhandler.sgml; multicorn2's multicornGetForeignRelSize/Paths/Plan):
// the wrapper's get_rel_size(quals, columns) sets the row estimate and width, can_sort decides whether a
// sorted path is offered, can_limit whether LIMIT/OFFSET reach execute(). What the executor needs is kept
// in the plan itself (fdw_private: one String node of JSON), so cached and copied plans carry it.
import { requireUtf8Database } from '../engine/pg/dbencoding.js'
import { FIRST_LOW_INVALID_ATTNO, FL, FDW_NODETAG as T } from '../engine/pg/layout.js'
import { readTableDef, type TableDef } from './catalog.js'
import type { FdwContext } from './context.js'
import { listItems, type QualJson } from './nodes.js'

/** What BeginForeignScan finds in fdw_private. */
export interface ScanPlan {
  def: TableDef
  /** attribute numbers (1-based) of the columns the scan must return, ascending */
  attnums: number[]
  quals: QualJson[]
  /** SortKey fields: attname, attnum, is_reversed, nulls_first, collate */
  sortkeys: Array<[string, number, boolean, boolean, null]>
  limit: number
  offset: number
  /** rows the query can use at most (LIMIT + OFFSET of a plain scan), -1: unknown */
  hint: number
}

interface RelState {
  plan: ScanPlan
  rows: number
  width: number
  startup: number
  /** all query_pathkeys as SortKeys when the wrapper can sort by them, else null */
  sorted: ScanPlan['sortkeys'] | null
  /** get_path_keys(): [[column, ...], expected rows] */
  pathKeys: Array<[string[], number]>
}

const COMPARE_GT = 5

export class Planner {
  private readonly rels = new Map<number, RelState>()

  constructor(private readonly cx: FdwContext) {}

  /** GetForeignRelSize(root, baserel, foreigntableid) */
  relSize(root: number, baserel: number, ftid: number): void {
    const { h, py, quals } = this.cx
    requireUtf8Database(h, 'Python foreign tables') // dbencoding.ts: its text is read as UTF-8
    const def = readTableDef(this.cx.rt.spi, ftid)
    const relid = h.u32at(baserel + FL.rel_relid)
    const byAttnum = new Map(def.cols.map((c) => [c.attnum, c]))
    const attnums = this.neededColumns(baserel, relid, def)
    const restrict = h.u32at(baserel + FL.rel_baserestrictinfo)
    const qs = quals.read(restrict, relid, (a) => byAttnum.get(a)?.name)
    const names = attnums.map((a) => byAttnum.get(a)?.name ?? '')
    const r = JSON.parse(
      py.call('plan', this.cx.json(def), JSON.stringify(qs), JSON.stringify(names)) as string,
    )
    h.setF64(baserel + FL.rel_rows, Math.max(1, r.rows))
    h.setU32(h.u32at(baserel + FL.rel_reltarget) + FL.pt_width, r.width)
    const plan: ScanPlan = { def, attnums, quals: qs, sortkeys: [], limit: -1, offset: -1, hint: -1 }
    const state: RelState = {
      plan,
      rows: r.rows,
      width: r.width,
      startup: r.startup,
      sorted: null,
      pathKeys: r.pathkeys,
    }
    this.pushLimit(root, baserel, relid, state)
    this.rels.set(baserel, state)
  }

  /** Columns in the target list and in the restrictions (a whole-row reference needs them all). */
  private neededColumns(baserel: number, relid: number, def: TableDef): number[] {
    const h = this.cx.h
    const M = h.M
    const cell = M._palloc0(4) as number
    M._pull_varattnos(h.u32at(h.u32at(baserel + FL.rel_reltarget) + FL.pt_exprs), relid, cell)
    for (const ri of listItems(h, h.u32at(baserel + FL.rel_baserestrictinfo)))
      M._pull_varattnos(h.u32at(ri + FL.ri_clause), relid, cell)
    const bms = h.u32at(cell)
    const out = new Set<number>()
    for (let m = M._bms_next_member(bms, -1) as number; m >= 0; m = M._bms_next_member(bms, m) as number) {
      const a = m + FIRST_LOW_INVALID_ATTNO
      if (a === 0) for (const c of def.cols) out.add(c.attnum)
      else if (a > 0) out.add(a)
    }
    return [...out].filter((a) => def.cols.some((c) => c.attnum === a)).sort((x, y) => x - y)
  }

  /**
   * LIMIT/OFFSET reach the scan only when nothing sits between them and it: one relation, no WHERE clause
   * left to check locally, no grouping, aggregates, DISTINCT, window functions, set operations or ORDER BY
   * (multicorn2 asks can_limit in the same case). The count is also the hint that keeps the scan from
   * pulling more rows out of a generator than the query can use.
   */
  private pushLimit(root: number, baserel: number, relid: number, st: RelState): void {
    const h = this.cx.h
    const q = h.u32at(root + FL.root_parse)
    if (h.u32at(q + FL.query_commandType) !== 1) return // CMD_SELECT
    const count = h.u32at(q + FL.query_limitCount)
    const offset = h.u32at(q + FL.query_limitOffset)
    if (!count && !offset) return
    if (h.u32at(baserel + FL.rel_baserestrictinfo)) return
    if (h.u8at(q + FL.query_hasAggs) || h.u8at(q + FL.query_hasAggs + 1) || h.u8at(q + FL.query_hasAggs + 2))
      return
    for (const f of [
      FL.query_groupingSets,
      FL.query_havingQual,
      FL.query_distinctClause,
      FL.query_sortClause,
      FL.query_setOperations,
    ])
      if (h.u32at(q + f)) return
    const je = h.u32at(q + FL.query_jointree)
    const from = listItems(h, h.u32at(je + FL.fromexpr_fromlist))
    if (from.length !== 1 || h.u32at(je + FL.fromexpr_quals)) return
    if (h.u32at(from[0]!) !== T.RangeTblRef || h.u32at(from[0]! + FL.rtr_rtindex) !== relid) return
    const value = (c: number): number | null => {
      if (!c) return 0
      if (h.u32at(c) !== T.Const) return null
      if (h.u8at(c + FL.const_constisnull)) return 0
      return Number(h.i64at(h.u32at(c + FL.const_constvalue)))
    }
    const lim = count ? value(count) : 0
    const off = value(offset)
    if (lim === null || off === null) return
    const limit = count && lim !== 0 ? lim : -1
    if (limit >= 0) st.plan.hint = limit + (off ?? 0)
    const ok = this.cx.py.call('can_limit', this.cx.json(st.plan.def), limit, offset ? off : -1) as boolean
    if (ok) {
      st.plan.limit = limit
      st.plan.offset = offset ? off : -1
    }
  }

  /** The query's ORDER BY as SortKeys of this relation's columns, or null if any key is something else. */
  private querySortKeys(root: number, relid: number, def: TableDef): ScanPlan['sortkeys'] | null {
    const h = this.cx.h
    const keys = listItems(h, h.u32at(root + FL.root_query_pathkeys))
    if (!keys.length) return null
    const out: ScanPlan['sortkeys'] = []
    for (const pk of keys) {
      const ec = h.u32at(pk + FL.pathkey_eclass)
      let col: (typeof def.cols)[number] | undefined
      for (const em of listItems(h, h.u32at(ec + FL.ec_members))) {
        const e = h.u32at(em + FL.em_expr)
        if (h.u32at(e) === T.Var && h.u32at(e + FL.var_varno) === relid && !h.u32at(e + FL.var_varlevelsup))
          col = def.cols.find((c) => c.attnum === h.i16at(e + FL.var_varattno))
        if (col) break
      }
      if (!col) return null
      const desc = h.i32at(pk + FL.pathkey_cmptype) === COMPARE_GT
      out.push([col.name, col.attnum, desc, h.u8at(pk + FL.pathkey_nulls_first) !== 0, null])
    }
    return out
  }

  /**
   * get_path_keys: for a key (columns, expected rows), the relations whose values an equality with each
   * column can take (equivalence classes joining the column to another relation), as required_outer of a
   * parameterized path — a nested loop may then give the scan the outer row's values, like an index
   * lookup (multicorn2's findPaths). Null when a column has no such join.
   */
  private outerRelids(
    root: number,
    baserel: number,
    relid: number,
    cols: string[],
    def: TableDef,
  ): number | null {
    const h = this.cx.h
    const M = h.M
    const own = h.u32at(baserel + FL.rel_relids)
    let outer = 0
    for (const name of cols) {
      const col = def.cols.find((c) => c.name === name)
      if (!col) return null
      let found = 0
      for (const ec of listItems(h, h.u32at(root + FL.root_eq_classes))) {
        const members = listItems(h, h.u32at(ec + FL.ec_members))
        const mine = members.some((em) => {
          let e = h.u32at(em + FL.em_expr)
          while (e && h.u32at(e) === T.RelabelType) e = h.u32at(e + FL.relabel_arg)
          return (
            h.u32at(e) === T.Var &&
            h.u32at(e + FL.var_varno) === relid &&
            h.i16at(e + FL.var_varattno) === col.attnum &&
            !h.u32at(e + FL.var_varlevelsup)
          )
        })
        if (!mine) continue
        for (const em of members) {
          if (h.u8at(em + FL.em_is_const) || h.u8at(em + FL.em_is_child)) continue
          const rel = h.u32at(em + FL.em_relids)
          if (rel && !M._bms_overlap(rel, own)) {
            found = rel
            break
          }
        }
        if (found) break
      }
      if (!found) return null
      outer = M._bms_union(outer, found) as number
    }
    return outer || null
  }

  /** GetForeignPaths: the plain path, and a sorted one when can_sort accepts the whole ORDER BY. */
  paths(root: number, baserel: number): void {
    const { h, py } = this.cx
    const M = h.M
    const st = this.rels.get(baserel)
    if (!st) throw new Error('GetForeignPaths without GetForeignRelSize')
    const rows = h.f64at(baserel + FL.rel_rows)
    const total = st.startup + rows * st.width
    M._add_path(
      baserel,
      M._create_foreignscan_path(root, baserel, 0, rows, 0, st.startup, total, 0, 0, 0, 0, 0),
    )
    const relid = h.u32at(baserel + FL.rel_relid)
    for (const [cols, n] of st.pathKeys) {
      const outer = this.outerRelids(root, baserel, relid, cols, st.plan.def)
      if (!outer) continue
      const r = Math.max(1, n)
      const path = M._create_foreignscan_path(
        root,
        baserel,
        0,
        r,
        0,
        st.startup,
        st.startup + r * st.width,
        0,
        outer,
        0,
        0,
        0,
      )
      M._add_path(baserel, path)
    }
    const sk = this.querySortKeys(root, relid, st.plan.def)
    if (sk) {
      const n = py.call('can_sort', this.cx.json(st.plan.def), JSON.stringify(sk)) as number
      if (n === sk.length) {
        st.sorted = sk
        const pathkeys = h.u32at(root + FL.root_query_pathkeys)
        M._add_path(
          baserel,
          M._create_foreignscan_path(root, baserel, 0, rows, 0, st.startup, total, pathkeys, 0, 0, 0, 0),
        )
      }
    }
  }

  /** GetForeignPlan: every restriction stays in the plan's qual (rechecked locally, as multicorn2 does). */
  plan(baserel: number, bestPath: number, tlist: number, scanClauses: number, outerPlan: number): number {
    const h = this.cx.h
    const M = h.M
    const st = this.rels.get(baserel)
    if (!st) throw new Error('GetForeignPlan without GetForeignRelSize')
    this.rels.delete(baserel)
    const plan: ScanPlan = { ...st.plan }
    if (h.u32at(bestPath + FL.path_pathkeys) && st.sorted) plan.sortkeys = st.sorted
    const relid = h.u32at(baserel + FL.rel_relid)
    // restrictions whose value comes at run time: their value expressions become fdw_exprs
    const exprs: number[] = []
    const byAttnum = new Map(plan.def.cols.map((c) => [c.attnum, c.name]))
    plan.quals = [
      ...plan.quals,
      ...this.cx.quals.readParams(scanClauses, relid, (a) => byAttnum.get(a), exprs),
    ]
    let fdwExprs = 0
    for (const e of exprs) fdwExprs = M._lappend(fdwExprs, e) as number
    const clauses = M._extract_actual_clauses(scanClauses, 0) as number
    const priv = M._lappend(0, M._makeString(h.pstrdup(JSON.stringify(plan))))
    return M._make_foreignscan(tlist, clauses, relid, fdwExprs, priv, 0, 0, outerPlan) as number
  }
}
