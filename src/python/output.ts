// Python → Datum, by PL/Python's output conversions (plpy_typeio.c PLy_output_setup_func and the
// PLyObject_To* functions). The Python half (pyglite_host/convert.py) walks the returned object by a
// descriptor made here and writes the codec; the builders here turn that stream into Datums: input
// functions for scalars, construct_md_array, heap_form_tuple, record_in, domain_check. A Python-side
// error is an ERROR tag in the stream, raised when the builder reaches it, so errors surface in the order
// PostgreSQL's converters would raise them.
import type { TypeCatalog } from '../catalog/types.js'
import type { Arrays } from '../engine/pg/arrays.js'
import type { CatalogWatch } from '../engine/pg/catalogwatch.js'
import { type Elog, PgError } from '../engine/pg/elog.js'
import type { Heap } from '../engine/pg/heap.js'
import { FUNC_OID, OID } from '../engine/pg/layout.js'
import type { Tuples } from '../engine/pg/tuples.js'
import { type CodecReader, T } from './codec.js'
import type { DatumIo } from './datum.js'
import type { TransformMap } from './transforms.js'

/** What the Python converter needs to know about a result type (flattened through domains). */
export type PyDesc =
  // any scalar: str() / repr() for floats, then the type's input function; h: a hint for the native
  // converter that exact ints (i2/i4/i8) and floats (f8) may travel as numbers, text (t) as bytes
  | { k: 's'; h?: 'i2' | 'i4' | 'i8' | 'f8' | 't' }
  | { k: 'b' } // bool: truthiness
  | { k: 'y' } // bytea: bytes()
  | { k: 'v'; p?: boolean } // void (p: of a procedure)
  | { k: 'a'; e: PyDesc } // array of e
  | { k: 'r'; n: Array<string | null>; t: PyDesc[] } // composite: names (null = dropped), types
  | { k: 'R' } // RECORD whose columns are known only at call time
  | { k: 'x'; f: string } // TRANSFORM FOR TYPE: the TO SQL function f (pyglite_host/transforms.py) makes its text

/** Scalar types whose values may skip the text round trip (the results are the same as their input
 * functions would give: int2in/int4in/int8in of str(int), float8in of repr(float), textin). */
const SCALAR_HINT: Record<number, 'i2' | 'i4' | 'i8' | 'f8' | 't'> = {
  [OID.INT2]: 'i2',
  [OID.INT4]: 'i4',
  [OID.INT8]: 'i8',
  [OID.FLOAT8]: 'f8',
  [OID.TEXT]: 't',
}

/** Builds one Datum from the codec stream; sets OutputConverters.isnull. */
export type Builder = (r: CodecReader) => number

interface RowPlan {
  gen: number
  natts: number
  builders: Array<Builder | null>
}

export class OutputConverters {
  /** Null flag of the Datum the last builder returned. */
  isnull = false
  private readonly builders = new Map<string, Builder>()
  private gen = 0
  private recordInFn = 0
  private readonly lists: Array<{ values: number[]; nulls: boolean[] }> = []
  private depth = 0

  constructor(
    private readonly heap: Heap,
    private readonly elog: Elog,
    private readonly io: DatumIo,
    private readonly types: TypeCatalog,
    private readonly tuples: Tuples,
    private readonly arrays: Arrays,
    private readonly watch: CatalogWatch,
  ) {}

  /** Current catalog generation that composite/domain-dependent plans are valid for. */
  get generation(): number {
    return this.watch.typeGen * 65536 + this.watch.relGen
  }

  /** The builder for results of type `typoid`/`typmod` (cached until the catalog changes). */
  builder(typoid: number, typmod = -1): Builder {
    if (this.gen !== this.generation) {
      this.builders.clear()
      this.gen = this.generation
    }
    const key = `${typoid}:${typmod}`
    let b = this.builders.get(key)
    if (!b) {
      b = this.make(typoid, typmod)
      this.builders.set(key, b)
    }
    return b
  }

  /** Build a Datum of type typoid from the stream (the value's null flag ends up in `isnull`). */
  build(r: CodecReader, typoid: number, typmod = -1): number {
    return this.builder(typoid, typmod)(r)
  }

  /** The descriptor the Python converter walks a result by. */
  pyDesc(typoid: number, typmod = -1, trf?: TransformMap): PyDesc {
    // PLy_output_setup_func: a transform first, then domains and array elements (with the same list)
    const f = trf?.get(typoid)
    if (f) return { k: 'x', f }
    if (typoid === OID.RECORD && typmod < 0) return { k: 'R' }
    if (typoid === OID.VOID) return { k: 'v' }
    if (typoid === OID.BOOL) return { k: 'b' }
    if (typoid === OID.BYTEA) return { k: 'y' }
    const hint = SCALAR_HINT[typoid]
    if (hint) return { k: 's', h: hint }
    const t = typoid === OID.RECORD ? null : this.types.get(typoid)
    if (t?.typtype === 'd') return this.pyDesc(t.basetype, t.basetypmod, trf)
    if (t?.elem) return { k: 'a', e: this.pyDesc(t.elem, typmod, trf) }
    if (t && t.typtype !== 'c') return { k: 's' }
    const desc = this.tuples.lookupRowtype(typoid, typmod)
    const rd = this.tuples.readDesc(desc)
    this.tuples.release(desc)
    return {
      k: 'r',
      n: rd.attrs.map((a) => (a.dropped ? null : a.name)),
      t: rd.attrs.map((a) => (a.dropped ? { k: 's' } : this.pyDesc(a.typid, a.typmod, trf))),
    }
  }

  private make(typoid: number, typmod: number): Builder {
    if (typoid === OID.RECORD) return this.composite(typoid, typmod)
    const t = this.types.get(typoid)
    if (t.typtype === 'd') return this.domain(typoid, t.basetype, t.basetypmod)
    if (t.elem) return this.array(t.elem, typmod)
    if (t.typtype === 'c') return this.composite(typoid, typmod)
    switch (typoid) {
      case OID.VOID:
        return (r) => {
          this.expect(r, T.NONE)
          this.isnull = false
          return 0
        }
      case OID.BOOL:
        return (r) => {
          const tag = r.tag()
          this.isnull = tag === T.NONE
          if (tag === T.TRUE) return 1
          if (tag === T.FALSE || tag === T.NONE) return 0
          return this.unexpected(tag, r)
        }
      case OID.BYTEA:
        return (r) => {
          const tag = r.tag()
          this.isnull = tag === T.NONE
          if (tag === T.NONE) return 0
          if (tag === T.BYTES) return this.io.makeVarlena(r.payload())
          return this.unexpected(tag, r)
        }
      default:
        return this.scalar(typoid, typmod)
    }
  }

  /** PLyObject_ToScalar; the numbers and text the native converter passes directly are stored as is. */
  private scalar(typoid: number, typmod: number): Builder {
    const h = this.heap
    const direct =
      typoid === OID.INT2 || typoid === OID.INT4
        ? (r: CodecReader, tag: number) => (tag === T.INT64 ? r.int32OrNull() : null)
        : typoid === OID.INT8 || typoid === OID.FLOAT8
          ? (r: CodecReader, tag: number) => {
              if (tag !== (typoid === OID.INT8 ? T.INT64 : T.FLOAT64)) return null
              const p = h.M._palloc(8) as number // by reference on wasm32
              h.write(p, r.raw8())
              return p
            }
          : typoid === OID.TEXT
            ? (r: CodecReader, tag: number) => (tag === T.STR ? this.io.makeVarlena(r.payload()) : null)
            : null
    return (r) => {
      const tag = r.tag()
      this.isnull = tag === T.NONE
      if (tag === T.NONE) return 0
      if (direct) {
        const d = direct(r, tag)
        if (d !== null) return d >>> 0
      }
      if (tag === T.STR) return this.io.inputBytes(r.payload(), typoid, typmod)
      if (tag === T.INT64) return this.io.input(String(r.raw8().readBigInt64LE(0)), typoid, typmod)
      return this.unexpected(tag, r)
    }
  }

  /** PLyObject_ToDomain: the base type's conversion, then domain_check. */
  private domain(typoid: number, base: number, basetypmod: number): Builder {
    const M = this.heap.M
    const inner = this.builder(base, basetypmod)
    const extra = M._malloc(4) as number // domain_check's cached DomainIOData, per builder
    this.heap.setU32(extra, 0)
    return (r) => {
      const d = inner(r)
      const isnull = this.isnull
      M._domain_check(d, isnull ? 1 : 0, typoid, extra, this.heap.u32at(M._TopMemoryContext))
      this.isnull = isnull
      return d
    }
  }

  /** PLySequence_ToArray: elements in order, then the dimensions; lower bounds are 1. */
  private array(elemType: number, typmod: number): Builder {
    const elem = this.builder(elemType, typmod)
    const base = this.types.base(elemType, typmod).oid
    const bt = this.types.get(base)
    const storage = { len: bt.len, byval: bt.byval, align: bt.align }
    return (r) => {
      const tag = r.tag()
      if (tag === T.NONE) {
        this.isnull = true
        return 0
      }
      if (tag === T.NDARRAY) {
        // numpy_plpython3u's result (pyglite_host/ndarrays.py to_sql): laid out from its packed elements
        const ndims = r.u8()
        const dims: number[] = []
        for (let i = 0; i < ndims; i++) dims.push(r.u32())
        const bitmap = r.payload()
        const data = r.payload()
        this.isnull = false
        return this.arrays.fromPacked(base, bt.len, dims, bitmap.length ? bitmap : null, data)
      }
      if (tag !== T.ARRAY) return this.unexpected(tag, r)
      const { values, nulls } = this.scratch()
      try {
        while (r.peek() !== T.ARRAY_END) {
          values.push(elem(r))
          nulls.push(this.isnull)
        }
        r.tag()
        const ndims = r.u8()
        const dims: number[] = []
        for (let i = 0; i < ndims; i++) dims.push(r.u32())
        this.isnull = false
        return this.arrays.construct(base, storage, dims, values, nulls)
      } finally {
        this.depth--
      }
    }
  }

  /** PLyObject_ToComposite: a ROW of attribute values, or a string for record_in. */
  private composite(typoid: number, typmod: number): Builder {
    let plan: RowPlan | undefined // per-attribute builders, made from the tuple descriptor
    return (r) => {
      const tag = r.tag()
      if (tag === T.NONE) {
        this.isnull = true
        return 0
      }
      if (tag === T.STR) {
        this.isnull = false
        return this.recordIn(r.payload(), typoid, typmod)
      }
      if (tag !== T.ROW) return this.unexpected(tag, r)
      const n = r.u32()
      const desc = this.tuples.lookupRowtype(typoid, typmod)
      if (!plan || plan.gen !== this.generation) plan = this.rowPlan(desc)
      if (n !== plan.natts)
        throw new PgError(
          `returned row has ${n} columns, but type ${this.types.format(typoid)} has ${plan.natts}`,
        )
      const { values, nulls } = this.scratch()
      try {
        for (let i = 0; i < n; i++) {
          const b = plan.builders[i]
          if (b) {
            values.push(b(r))
            nulls.push(this.isnull)
          } else {
            this.expect(r, T.NONE) // dropped column
            values.push(0)
            nulls.push(true)
          }
        }
        const d = this.tuples.formDatum(desc, values, nulls)
        this.tuples.release(desc)
        this.isnull = false
        return d
      } finally {
        this.depth--
      }
    }
  }

  /** Value/null lists reused per nesting level (a row inside an array inside a row …). */
  private scratch(): { values: number[]; nulls: boolean[] } {
    let s = this.lists[this.depth]
    if (!s) {
      s = { values: [], nulls: [] }
      this.lists[this.depth] = s
    }
    this.depth++
    s.values.length = 0
    s.nulls.length = 0
    return s
  }

  private rowPlan(desc: number): RowPlan {
    const rd = this.tuples.readDesc(desc)
    return {
      gen: this.generation,
      natts: rd.natts,
      builders: rd.attrs.map((a) => (a.dropped ? null : this.builder(a.typid, a.typmod))),
    }
  }

  private recordIn(bytes: Uint8Array, typoid: number, typmod: number): number {
    const h = this.heap
    const M = h.M
    if (!this.recordInFn) {
      this.recordInFn = M._malloc(48) as number // FmgrInfo, permanent
      M._fmgr_info_cxt(FUNC_OID.record_in, this.recordInFn, h.u32at(M._TopMemoryContext))
    }
    return (M._InputFunctionCall(this.recordInFn, this.io.cstring(bytes), typoid, typmod) as number) >>> 0
  }

  private expect(r: CodecReader, tag: number): void {
    const t = r.tag()
    if (t !== tag) this.unexpected(t, r)
  }

  /** An ERROR tag raises the error Python described; anything else is a converter bug. */
  private unexpected(tag: number, r: CodecReader): never {
    if (tag === T.ERROR) {
      const v = r.value()
      const f = (v && typeof v === 'object' && 'list' in v ? v.list : []).map((x) =>
        x == null ? null : String(x),
      )
      this.elog.raise(f[0] ?? 'could not convert Python object', {
        sqlstate: f[1] ?? 'XX000',
        detail: f[2],
        hint: f[3],
        context: f[4],
      })
    }
    throw new PgError(`internal error: unexpected codec tag ${tag} in a PL/Python result`)
  }
}
