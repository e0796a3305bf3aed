// Datum → Python, by PL/Python's input conversions (plpy_typeio.c PLy_input_setup_func and the
// PLy*_From* functions): an encoder is chosen once per type and writes the value into the codec that
// native/core/codec.c turns into Python objects. Domains convert as their base type, true arrays become nested
// lists (lower bounds dropped, NULL → None), composites become dicts (dropped columns skipped).
import type { TypeCatalog } from '../catalog/types.js'
import type { Arrays } from '../engine/pg/arrays.js'
import type { CatalogWatch } from '../engine/pg/catalogwatch.js'
import type { Heap } from '../engine/pg/heap.js'
import { L, OID } from '../engine/pg/layout.js'
import type { Tuples } from '../engine/pg/tuples.js'
import { type CodecWriter, T } from './codec.js'
import type { DatumIo } from './datum.js'
import { fromSqlWriter, NUMPY, type TransformMap } from './transforms.js'

export type Encoder = (w: CodecWriter, datum: number) => void

/** Per-row-type encoding plan: attribute names (UTF-8), encoders, which attributes to skip. */
interface RowPlan {
  gen: number
  natts: number
  names: Buffer[]
  encoders: Array<Encoder | null>
  /** attributes included: all / without generated (triggers) */
  countAll: number
  countNoGen: number
  generated: boolean[]
}

export class InputConverters {
  private readonly encoders = new Map<number, Encoder>()
  private readonly rows = new Map<string, RowPlan>()
  /** row plans under a procedure's transforms (fields of composites: PLy_input_setup_tuple) */
  private transformedRows = new WeakMap<TransformMap, Map<string, RowPlan>>()
  private readonly scratch: number

  constructor(
    private readonly heap: Heap,
    private readonly io: DatumIo,
    private readonly types: TypeCatalog,
    private readonly tuples: Tuples,
    private readonly arrays: Arrays,
    private readonly watch: CatalogWatch,
  ) {
    this.scratch = heap.M._malloc(8) as number
  }

  /** The encoder for values of type `typoid` (cached per type; invalidated with pg_type). */
  encoder(typoid: number): Encoder {
    let e = this.encoders.get(typoid)
    if (!e) {
      e = this.make(typoid)
      this.encoders.set(typoid, e)
    }
    return e
  }

  /** Encode one value (NULL → None). */
  encode(w: CodecWriter, datum: number, isnull: boolean, typoid: number): void {
    if (isnull) w.none()
    else this.encoder(typoid)(w, datum)
  }

  /**
   * The encoder of `typoid` under a procedure's TRANSFORM FOR TYPE list (PLy_input_setup_func looks for a
   * transform first, then through domains, array elements and a composite's fields), or undefined when no
   * transform applies. A `record` may hold anything: it is encoded under the transforms whenever there are.
   */
  transformEncoder(typoid: number, trf: TransformMap): Encoder | undefined {
    const symbol = trf.get(typoid)
    const numpy = symbol ? NUMPY[symbol] : undefined
    if (numpy) {
      // numpy_plpython3u: the packed elements and the NULL bitmap in one piece each (no value per element)
      return (w, d) => {
        const a = this.arrays.packed(d, numpy.width)
        w.ndarray(numpy.code, a.dims, a.bitmap, a.data)
      }
    }
    const write = symbol ? fromSqlWriter(symbol) : undefined
    if (write) return (w, d) => write(w, this.io.output(d, typoid))
    const t = this.types.get(typoid)
    if (t.typtype === 'd') return this.transformEncoder(this.types.base(typoid, -1).oid, trf)
    if (t.elem) {
      const e = this.transformEncoder(t.elem, trf)
      return e && this.arrayEncoder(t.elem, e)
    }
    if (typoid === OID.RECORD) return trf.size ? this.compositeEncoder(trf) : undefined
    if (t.typtype === 'c' && this.fieldTransformed(typoid, trf)) return this.compositeEncoder(trf)
    return undefined
  }

  /** Whether a transform applies to some field of composite type `typoid` (or deeper). */
  private fieldTransformed(typoid: number, trf: TransformMap): boolean {
    const desc = this.tuples.lookupRowtype(typoid, -1)
    try {
      return this.tuples
        .readDesc(desc)
        .attrs.some((a) => !a.dropped && this.transformEncoder(a.typid, trf) !== undefined)
    } finally {
      this.tuples.release(desc)
    }
  }

  /** Forget cached encoders (types changed). */
  clear(): void {
    this.encoders.clear()
    this.rows.clear()
    this.transformedRows = new WeakMap()
  }

  private make(typoid: number): Encoder {
    const h = this.heap
    if (typoid === OID.RECORD) return this.compositeEncoder()
    const t = this.types.get(typoid)
    if (t.typtype === 'd') return this.encoder(this.types.base(typoid, -1).oid)
    if (t.elem) return this.arrayEncoder(t.elem)
    if (t.typtype === 'c') return this.compositeEncoder()
    switch (typoid) {
      case OID.BOOL:
        return (w, d) => w.bool((d & 255) !== 0)
      case OID.INT2:
        return (w, d) => w.int32((d << 16) >> 16)
      case OID.INT4:
        return (w, d) => w.int32(d | 0)
      case OID.OID:
        return (w, d) => (d >>> 0 > 0x7fffffff ? w.int64(BigInt(d >>> 0)) : w.int32(d))
      case OID.INT8:
        return (w, d) => w.int64(h.i64at(d))
      case OID.FLOAT4:
        return (w, d) => {
          h.setU32(this.scratch, d)
          w.float64(h.f32at(this.scratch))
        }
      case OID.FLOAT8:
        return (w, d) => w.float64(h.f64at(d))
      case OID.NUMERIC:
        return (w, d) => w.text(this.io.output(d, typoid), T.DECIMAL)
      case OID.BYTEA:
        return (w, d) => w.bytes(this.io.varlenaBytes(d))
      case OID.TEXT:
      case OID.VARCHAR:
      case OID.BPCHAR:
        return (w, d) => w.utf8Bytes(this.io.varlenaBytes(d))
      default:
        return (w, d) => w.text(this.io.output(d, typoid))
    }
  }

  /** PLyList_FromArray: nested lists in storage order, one level per dimension. */
  private arrayEncoder(elemType: number, elemEncoder?: Encoder): Encoder {
    const el = this.types.get(elemType)
    const enc = elemEncoder ?? this.encoder(elemType)
    const storage = { len: el.len, byval: el.byval, align: el.align }
    return (w, d) => {
      let dims: number[] = []
      let spans: number[] = [] // spans[k]: elements covered by one list at level k
      let i = 0
      this.arrays.walk(
        d,
        storage,
        (s) => {
          dims = s.dims
          if (s.ndim === 0) w.header(T.LIST, 0)
          spans = new Array<number>(dims.length)
          let span = 1
          for (let k = dims.length - 1; k >= 0; k--) {
            span *= dims[k]!
            spans[k] = span
          }
        },
        (datum, isnull) => {
          for (let k = 0; k < dims.length; k++) if (i % spans[k]! === 0) w.header(T.LIST, dims[k]!)
          if (isnull) w.none()
          else enc(w, datum)
          i++
        },
      )
    }
  }

  /**
   * PLyDict_FromComposite: the tuple descriptor comes from the value's own header; under a procedure's
   * transforms (`trf`) its fields are encoded with them.
   */
  private compositeEncoder(trf?: TransformMap): Encoder {
    return (w, d) => {
      const h = this.heap
      const td = h.M._pg_detoast_datum(d) as number
      const { typeid, typmod } = this.tuples.datumType(td)
      const desc = this.tuples.lookupRowtype(typeid, typmod)
      this.encodeTuple(w, td, desc, true, true, trf)
      this.tuples.release(desc)
    }
  }

  /**
   * PLyDict_FromTuple: one row as a dict {column: value}. `tuple` is a HeapTuple, or a composite Datum's
   * header when `isHeader`. Dropped columns are skipped, and generated ones unless `includeGenerated`
   * (virtual generated columns never appear).
   */
  encodeTuple(
    w: CodecWriter,
    tuple: number,
    desc: number,
    includeGenerated: boolean,
    isHeader = false,
    trf?: TransformMap,
  ): void {
    const plan = this.rowPlan(desc, trf)
    const h = this.heap
    w.header(T.DICT, includeGenerated ? plan.countAll : plan.countNoGen)
    this.tuples.withDeformed(tuple, desc, plan.natts, isHeader, ({ values, nulls }) => {
      for (let i = 0; i < plan.natts; i++) {
        const enc = plan.encoders[i]
        if (!enc || (!includeGenerated && plan.generated[i])) continue
        w.utf8Bytes(plan.names[i]!)
        if (h.u8at(nulls + i)) w.none()
        else enc(w, h.u32at(values + 4 * i))
      }
    })
  }

  /**
   * The plan for a descriptor: cached per registered row type (named composite, or blessed record typmod);
   * an anonymous descriptor (e.g. of an SPI result) gets a fresh plan, since its memory may be reused.
   */
  private rowPlan(desc: number, trf?: TransformMap): RowPlan {
    const h = this.heap
    const typeid = h.u32at(desc + L.tupdesc_tdtypeid)
    const typmod = h.i32at(desc + L.tupdesc_tdtypmod)
    const key = typeid !== OID.RECORD || typmod >= 0 ? `${typeid}:${typmod}` : null
    let rows = this.rows
    if (trf) {
      let under = this.transformedRows.get(trf)
      if (!under) {
        under = new Map<string, RowPlan>()
        this.transformedRows.set(trf, under)
      }
      rows = under
    }
    let plan = key ? rows.get(key) : undefined
    const natts = h.i32at(desc + L.tupdesc_natts)
    if (plan && plan.gen === this.watch.relGen && plan.natts === natts) return plan
    const rd = this.tuples.readDesc(desc)
    plan = {
      gen: this.watch.relGen,
      natts,
      names: [],
      encoders: [],
      countAll: 0,
      countNoGen: 0,
      generated: [],
    }
    for (const a of rd.attrs) {
      // virtual generated columns have no stored value: PL/Python never shows them
      const skip = a.dropped || a.generated === 'v'
      plan.names.push(Buffer.from(a.name, 'utf8'))
      plan.encoders.push(
        skip ? null : ((trf && this.transformEncoder(a.typid, trf)) ?? this.encoder(a.typid)),
      )
      plan.generated.push(a.generated !== '')
      if (!skip) {
        plan.countAll++
        if (a.generated === '') plan.countNoGen++
      }
    }
    if (key) rows.set(key, plan)
    return plan
  }
}
