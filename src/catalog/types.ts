// Type metadata from pg_type through the syscache (as plpy_typeio.c uses lookup_type_cache): storage,
// kind (base/composite/domain/pseudo), array element, domain base. Cached per instance until a pg_type
// invalidation arrives.
import type { CatalogWatch } from '../engine/pg/catalogwatch.js'
import { PgError } from '../engine/pg/elog.js'
import type { Heap } from '../engine/pg/heap.js'
import { FUNC_OID, L, SYSCACHE } from '../engine/pg/layout.js'

export interface TypeInfo {
  oid: number
  /** pg_type.typname */
  name: string
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange */
  typtype: string
  category: string
  len: number
  byval: boolean
  align: string
  /** element type of a true array type (IsTrueArrayType), else 0 */
  elem: number
  /** pg_class row of a composite type */
  relid: number
  /** for domains: the immediate base type and the domain's typmod for it */
  basetype: number
  basetypmod: number
}

export class TypeCatalog {
  private readonly cache = new Map<number, TypeInfo>()
  private gen = 0

  constructor(
    private readonly heap: Heap,
    private readonly watch: CatalogWatch,
  ) {}

  /** Metadata of type `oid` ("cache lookup failed for type" if it does not exist). */
  get(oid: number): TypeInfo {
    if (this.gen !== this.watch.typeGen) {
      this.cache.clear()
      this.gen = this.watch.typeGen
    }
    let t = this.cache.get(oid)
    if (!t) {
      t = this.read(oid)
      this.cache.set(oid, t)
    }
    return t
  }

  private read(oid: number): TypeInfo {
    const h = this.heap
    const M = h.M
    const tup = M._SearchSysCache1(SYSCACHE.TYPEOID, oid) as number
    if (!tup) throw new PgError(`cache lookup failed for type ${oid >>> 0}`)
    try {
      const data = h.u32at(tup + L.htd_t_data)
      const s = data + h.u8at(data + L.hth_t_hoff) // GETSTRUCT
      const elem = h.u32at(s + L.typ_typelem)
      const isArray = elem !== 0 && h.u32at(s + L.typ_typsubscript) === FUNC_OID.array_subscript_handler
      return {
        oid: oid >>> 0,
        name: h.str(s + L.typ_typname) ?? '',
        typtype: String.fromCharCode(h.u8at(s + L.typ_typtype)),
        category: String.fromCharCode(h.u8at(s + L.typ_typcategory)),
        len: h.i16at(s + L.typ_typlen),
        byval: h.u8at(s + L.typ_typbyval) !== 0,
        align: String.fromCharCode(h.u8at(s + L.typ_typalign)),
        elem: isArray ? elem : 0,
        relid: h.u32at(s + L.typ_typrelid),
        basetype: h.u32at(s + L.typ_typbasetype),
        basetypmod: h.i32at(s + L.typ_typtypmod),
      }
    } finally {
      M._ReleaseSysCache(tup)
    }
  }

  /** getBaseTypeAndTypmod: follow a chain of domains down to the base type. */
  base(oid: number, typmod: number): { oid: number; typmod: number } {
    let t = this.get(oid)
    while (t.typtype === 'd') {
      typmod = t.basetypmod
      t = this.get(t.basetype)
    }
    return { oid: t.oid, typmod }
  }

  /** format_type_be: the type's SQL name as PostgreSQL prints it in messages. */
  format(oid: number): string {
    const h = this.heap
    const p = h.M._format_type_be(oid) as number
    const s = h.str(p) ?? String(oid)
    h.M._pfree(p)
    return s
  }
}
