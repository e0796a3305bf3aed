// Reading planner nodes from JS (pg_list.h, primnodes.h): lists, and the restrictions multicorn2 pushes
// down (its extractRestrictions in query.c): `Var op Const`, `Const op Var` (with the commutator),
// `Var op ANY/ALL(array Const)`, `Var IS [NOT] NULL`, on columns of the scanned relation.
import type { Heap } from '../engine/pg/heap.js'
import { FL, L, FDW_NODETAG as T } from '../engine/pg/layout.js'
import type { DatumIo } from '../python/datum.js'
import { category, datumToJson } from './values.js'

/** The pointers of a List (NIL = 0 is empty). */
export function listItems(h: Heap, list: number): number[] {
  if (!list) return []
  const n = h.i32at(list + L.list_length)
  const cells = h.u32at(list + L.list_elements)
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(h.u32at(cells + 4 * i))
  return out
}

const tag = (h: Heap, node: number): number => (node ? h.u32at(node) : 0)

/** A Var below RelabelType (binary-compatible casts), or 0. */
function unwrap(h: Heap, node: number): number {
  while (node && tag(h, node) === T.RelabelType) node = h.u32at(node + FL.relabel_arg)
  return node
}

/** The attribute number of a Var of relation `relid` at this query level, or 0. */
function varAttno(h: Heap, node: number, relid: number): number {
  node = unwrap(h, node)
  if (tag(h, node) !== T.Var) return 0
  if (h.u32at(node + FL.var_varno) !== relid || h.u32at(node + FL.var_varlevelsup) !== 0) return 0
  const a = h.i16at(node + FL.var_varattno)
  return Math.max(a, 0)
}

/** One pushed-down restriction: column, operator, list form, value as from_pg reads it, its category. */
export interface QualJson {
  f: string
  o: string
  list: boolean
  any: boolean
  v: unknown
  c: string
  /** the value is fdw_exprs[p], evaluated when the scan starts (a parameter, a nested-loop outer value) */
  p?: number
  /** its type (p only) */
  t?: number
}

export class QualReader {
  private readonly typeInfo = new Map<number, { base: number; elem: number }>()

  constructor(
    private readonly h: Heap,
    private readonly io: DatumIo,
  ) {}

  private info(typoid: number): { base: number; elem: number } {
    let t = this.typeInfo.get(typoid)
    if (!t) {
      const M = this.h.M
      const base = (M._getBaseType(typoid) as number) >>> 0
      t = { base, elem: (M._get_element_type(base) as number) >>> 0 }
      this.typeInfo.set(typoid, t)
    }
    return t
  }

  private opname(opno: number): string {
    const M = this.h.M
    const p = M._get_opname(opno) as number
    const s = this.h.str(p) ?? ''
    if (p) M._pfree(p)
    return s
  }

  private constValue(node: number, asArray: boolean): { v: unknown; c: string } {
    const h = this.h
    const typoid = h.u32at(node + FL.const_consttype)
    const t = this.info(typoid)
    if (h.u8at(node + FL.const_constisnull)) return { v: null, c: 't' }
    const d = h.u32at(node + FL.const_constvalue)
    // an array's elements (ANY/ALL, or a column of an array type): a list, as multicorn2's datumArrayToPython
    // (int2vector and oidvector print "1 2", not an array literal: they stay text)
    if (asArray || (t.elem && t.base !== 22 && t.base !== 30))
      return { v: this.io.output(d, typoid), c: category(t.base, t.elem, true) }
    return { v: datumToJson(h, this.io, d, typoid, t.base), c: category(t.base, 0, false) }
  }

  /**
   * The restrictions `column op value` whose value is only known when the scan runs: a Param ($1 of a
   * generic plan) or a Var of another relation (a parameterized path's join clause; the planner makes it
   * a PARAM_EXEC Param in fdw_exprs). Their values go to `exprs` (fdw_exprs).
   */
  readParams(
    clauses: number,
    relid: number,
    nameOf: (attno: number) => string | undefined,
    exprs: number[],
  ): QualJson[] {
    const h = this.h
    const out: QualJson[] = []
    for (const ri of listItems(h, clauses)) {
      const clause = h.u32at(ri + FL.ri_clause)
      if (tag(h, clause) !== T.OpExpr) continue
      const args = listItems(h, h.u32at(clause + FL.opexpr_args))
      if (args.length !== 2) continue
      let opno = h.u32at(clause + FL.opexpr_opno)
      let attno = varAttno(h, args[0]!, relid)
      let other = args[1]!
      if (!attno) {
        attno = varAttno(h, args[1]!, relid)
        other = args[0]!
        opno = attno ? (h.M._get_commutator(opno) as number) >>> 0 : 0
      }
      const name = attno ? nameOf(attno) : undefined
      if (!name || !opno) continue
      const inner = unwrap(h, other)
      const outerVar =
        tag(h, inner) === T.Var &&
        h.u32at(inner + FL.var_varno) !== relid &&
        !h.u32at(inner + FL.var_varlevelsup)
      if (tag(h, inner) !== T.Param && !outerVar) continue
      const t = (h.M._exprType(other) as number) >>> 0
      const info = this.info(t)
      exprs.push(other)
      out.push({
        f: name,
        o: this.opname(opno),
        list: false,
        any: false,
        v: null,
        c: category(info.base, 0, false),
        p: exprs.length - 1,
        t,
      })
    }
    return out
  }

  /** A value of fdw_exprs evaluated at run time, as from_pg reads it. */
  paramValue(d: number, isnull: boolean, typoid: number): unknown {
    return isnull ? null : datumToJson(this.h, this.io, d, typoid, this.info(typoid).base)
  }

  /** The restrictions of baserestrictinfo multicorn2 would pass as Quals; `names[attno-1]` names columns. */
  read(restrictinfo: number, relid: number, nameOf: (attno: number) => string | undefined): QualJson[] {
    const h = this.h
    const out: QualJson[] = []
    for (const ri of listItems(h, restrictinfo)) {
      const clause = h.u32at(ri + FL.ri_clause)
      switch (tag(h, clause)) {
        case T.OpExpr: {
          const args = listItems(h, h.u32at(clause + FL.opexpr_args))
          if (args.length !== 2) break
          let opno = h.u32at(clause + FL.opexpr_opno)
          let attno = varAttno(h, args[0]!, relid)
          let other = unwrap(h, args[1]!)
          if (!attno) {
            attno = varAttno(h, args[1]!, relid)
            other = unwrap(h, args[0]!)
            opno = attno ? (h.M._get_commutator(opno) as number) >>> 0 : 0
          }
          const name = attno ? nameOf(attno) : undefined
          if (!name || !opno || tag(h, other) !== T.Const) break
          const { v, c } = this.constValue(other, false)
          out.push({ f: name, o: this.opname(opno), list: false, any: false, v, c })
          break
        }
        case T.ScalarArrayOpExpr: {
          const args = listItems(h, h.u32at(clause + FL.saop_args))
          const attno = args.length === 2 ? varAttno(h, args[0]!, relid) : 0
          const name = attno ? nameOf(attno) : undefined
          const arr = args.length === 2 ? unwrap(h, args[1]!) : 0
          if (!name || tag(h, arr) !== T.Const) break
          const { v, c } = this.constValue(arr, true)
          const any = h.u8at(clause + FL.saop_useOr) !== 0
          out.push({ f: name, o: this.opname(h.u32at(clause + FL.saop_opno)), list: true, any, v, c })
          break
        }
        case T.NullTest: {
          const attno = varAttno(h, h.u32at(clause + FL.nulltest_arg), relid)
          const name = attno ? nameOf(attno) : undefined
          if (!name) break
          // IS_NULL = 0, IS_NOT_NULL = 1: multicorn2 passes them as `= None` and `<> None`
          const o = h.u32at(clause + FL.nulltest_type) === 0 ? '=' : '<>'
          out.push({ f: name, o, list: false, any: false, v: null, c: 't' })
          break
        }
      }
    }
    return out
  }
}
