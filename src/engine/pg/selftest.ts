// Start-up self-test of the struct layouts and catalog constants in layout.ts that the type converters
// rely on (pg_type through the syscache, TupleDesc attributes, composite Datums, ArrayType): each is
// probed with known values inside a transaction that is rolled back. A PGlite whose ABI differs is
// refused instead of silently corrupting data.
import type { PGlite } from '@electric-sql/pglite'
import { Arrays } from './arrays.js'
import type { Elog } from './elog.js'
import type { Heap } from './heap.js'
import { FDW_NODETAG, FL, L, OID, SYSCACHE, TTS_FLAG_EMPTY } from './layout.js'
import { Tuples } from './tuples.js'

const PG_PROC_RELID = 1255

function probe(heap: Heap): string[] {
  const h = heap
  const M = h.M
  const bad: string[] = []
  const expect = (what: string, got: unknown, want: unknown) => {
    if (got !== want) bad.push(`${what}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`)
  }
  // pg_type rows through the TYPEOID syscache (FormData_pg_type offsets)
  const typ = (oid: number, fn: (s: number) => void) => {
    const tup = M._SearchSysCache1(SYSCACHE.TYPEOID, oid) as number
    if (!tup) return bad.push(`SearchSysCache1(TYPEOID=${SYSCACHE.TYPEOID}, ${oid}) found nothing`)
    const data = h.u32at(tup + L.htd_t_data)
    fn(data + h.u8at(data + L.hth_t_hoff))
    M._ReleaseSysCache(tup)
  }
  typ(1007, (s) => {
    expect('pg_type.typname(_int4)', h.str(s + L.typ_typname), '_int4')
    expect('pg_type.typelem(_int4)', h.u32at(s + L.typ_typelem), OID.INT4)
    expect('pg_type.typsubscript(_int4)', h.u32at(s + L.typ_typsubscript), 6179)
    expect('pg_type.typlen(_int4)', h.i16at(s + L.typ_typlen), -1)
    expect('pg_type.typalign(_int4)', h.u8at(s + L.typ_typalign), 'i'.charCodeAt(0))
  })
  typ(OID.INT2, (s) => {
    expect('pg_type.typlen(int2)', h.i16at(s + L.typ_typlen), 2)
    expect('pg_type.typbyval(int2)', h.u8at(s + L.typ_typbyval), 1)
    expect('pg_type.typtype(int2)', h.u8at(s + L.typ_typtype), 'b'.charCodeAt(0))
    expect('pg_type.typcategory(int2)', h.u8at(s + L.typ_typcategory), 'N'.charCodeAt(0))
    expect('pg_type.typtypmod(int2)', h.i32at(s + L.typ_typtypmod), -1)
  })
  // the PROCOID syscache: a pg_proc tuple (HeapTupleData.t_tableOid at +12)
  const proc = M._SearchSysCache1(SYSCACHE.PROCOID, 2290) as number
  if (!proc) bad.push(`SearchSysCache1(PROCOID=${SYSCACHE.PROCOID}, record_in) found nothing`)
  else {
    expect('PROCOID tuple table', h.u32at(proc + 12), PG_PROC_RELID)
    M._ReleaseSysCache(proc)
  }
  // TupleDesc attributes (PG 18: after the CompactAttribute array)
  const tuples = new Tuples(heap)
  const desc = M._CreateTemplateTupleDesc(2) as number
  M._TupleDescInitEntry(desc, 1, h.pstrdup('abc'), OID.INT4, -1, 0)
  M._TupleDescInitEntry(desc, 2, h.pstrdup('de'), OID.VARCHAR, 14, 0)
  const rd = tuples.readDesc(desc)
  expect('TupleDesc natts', rd.natts, 2)
  const [a, b] = rd.attrs
  expect('attname', a?.name, 'abc')
  expect('atttypid', a?.typid, OID.INT4)
  expect('attlen', a?.len, 4)
  expect('attbyval', a?.byval, true)
  expect('attalign', a?.align, 'i')
  expect('attname 2', b?.name, 'de')
  expect('atttypmod 2', b?.typmod, 14)
  expect('attlen 2', b?.len, -1)
  expect('attisdropped 2', b?.dropped, false)
  expect('attgenerated 2', b?.generated, '')
  // composite Datum: form, read the header, deform
  M._BlessTupleDesc(desc)
  const varchar = M._palloc(8) as number
  h.setU32(varchar, 7 << 2) // 4-byte varlena header, 3 bytes of data
  h.write(varchar + 4, Buffer.from('xyz'))
  const row = tuples.formDatum(desc, [42, varchar], [false, false])
  const dt = tuples.datumType(row)
  expect('composite Datum typeid', dt.typeid, OID.RECORD)
  expect('composite Datum typmod', dt.typmod, h.i32at(desc + L.tupdesc_tdtypmod))
  tuples.withDeformed(row, desc, 2, true, ({ values, nulls }) => {
    expect('deformed int4', h.u32at(values), 42)
    expect('deformed null flag', h.u8at(nulls + 1), 0)
  })
  // ArrayType: construct, then walk (with a null bitmap, and varlena elements)
  const arrays = new Arrays(heap)
  const seen: Array<number | null> = []
  const i4 = { len: 4, byval: true, align: 'i' }
  const arr = arrays.construct(OID.INT4, i4, [3], [7, 0, 9], [false, true, false])
  arrays.walk(
    arr,
    i4,
    (s) => expect('array dims', s.dims.join(','), '3'),
    (d, isnull) => seen.push(isnull ? null : d),
  )
  expect('array elements', JSON.stringify(seen), '[7,null,9]')
  const texts: string[] = []
  const t = M._palloc(12) as number
  h.setU32(t, 6 << 2)
  h.write(t + 4, Buffer.from('hi'))
  const tv = { len: -1, byval: false, align: 'i' }
  const tarr = arrays.construct(OID.TEXT, tv, [2], [t, t], [false, false])
  arrays.walk(
    tarr,
    tv,
    () => {},
    (d) => {
      const n = h.u8at(d) & 1 ? (h.u8at(d) >>> 1) - 1 : (h.u32at(d) >>> 2) - 4
      texts.push(Buffer.from(h.bytes(d + (h.u8at(d) & 1 ? 1 : 4), n)).toString())
    },
  )
  expect('text array elements', texts.join(','), 'hi,hi')
  probeFdw(heap, expect)
  probePortal(heap, expect)
  return bad
}

/** The node and slot offsets src/fdw reads (FL, FDW_NODETAG), on nodes made by PostgreSQL's constructors. */
function probeFdw(h: Heap, expect: (what: string, got: unknown, want: unknown) => void): void {
  const M = h.M
  const s = M._makeString(h.pstrdup('probe')) as number
  expect('String tag', h.u32at(s), FDW_NODETAG.String)
  expect('String.sval', h.str(h.u32at(s + FL.string_sval)), 'probe')
  const d = M._makeDefElem(h.pstrdup('opt'), s, -1) as number
  expect('DefElem tag', h.u32at(d), FDW_NODETAG.DefElem)
  expect('DefElem.defname', h.str(h.u32at(d + FL.defelem_defname)), 'opt')
  expect('DefElem.arg', h.u32at(d + FL.defelem_arg), s)
  const v = M._makeVar(3, 2, OID.INT4, -1, 0, 1) as number
  expect('Var tag', h.u32at(v), FDW_NODETAG.Var)
  expect('Var.varno', h.u32at(v + FL.var_varno), 3)
  expect('Var.varattno', h.i16at(v + FL.var_varattno), 2)
  expect('Var.vartype', h.u32at(v + FL.var_vartype), OID.INT4)
  expect('Var.varlevelsup', h.u32at(v + FL.var_varlevelsup), 1)
  const c = M._makeConst(OID.INT4, -1, 0, 4, 42, 0, 1) as number
  expect('Const tag', h.u32at(c), FDW_NODETAG.Const)
  expect('Const.consttype', h.u32at(c + FL.const_consttype), OID.INT4)
  expect('Const.constvalue', h.u32at(c + FL.const_constvalue), 42)
  expect('Const.constisnull', h.u8at(c + FL.const_constisnull), 0)
  const op = M._make_opclause(96, OID.BOOL, 0, v, c, 0, 0) as number // int4eq
  expect('OpExpr tag', h.u32at(op), FDW_NODETAG.OpExpr)
  expect('OpExpr.opno', h.u32at(op + FL.opexpr_opno), 96)
  const args = h.u32at(op + FL.opexpr_args)
  expect('OpExpr.args length', h.i32at(args + L.list_length), 2)
  expect('OpExpr.args[1]', h.u32at(h.u32at(args + L.list_elements) + 4), c)
  // a virtual slot: ops, descriptor, values/isnull arrays, and what ExecStoreVirtualTuple sets
  const desc = M._CreateTemplateTupleDesc(1) as number
  M._TupleDescInitEntry(desc, 1, h.pstrdup('x'), OID.INT4, -1, 0)
  const slot = M._MakeSingleTupleTableSlot(desc, M._TTSOpsVirtual) as number
  expect('TupleTableSlot.tts_ops', h.u32at(slot + FL.slot_ops), M._TTSOpsVirtual)
  expect('TupleTableSlot.tts_tupleDescriptor', h.u32at(slot + FL.slot_tupdesc), desc)
  expect('TupleTableSlot empty', h.u32at(slot + FL.slot_flags) & 0xffff & TTS_FLAG_EMPTY, TTS_FLAG_EMPTY)
  h.setU32(h.u32at(slot + FL.slot_values), 7)
  h.setU8(h.u32at(slot + FL.slot_isnull), 0)
  M._ExecStoreVirtualTuple(slot)
  expect('TupleTableSlot stored', h.u32at(slot + FL.slot_flags) & 0xffff & TTS_FLAG_EMPTY, 0)
  expect('TupleTableSlot.tts_nvalid', h.i16at(slot + FL.slot_nvalid), 1)
  M._ExecDropSingleTupleTableSlot(slot)
}

/** PortalData.tupDesc: plcolumns reads a cursor's result descriptor there (columns/encode.ts). */
function probePortal(h: Heap, expect: (what: string, got: unknown, want: unknown) => void): void {
  const M = h.M
  if ((M._SPI_connect() as number) < 0) {
    expect('SPI_connect', 'failed', 'ok')
    return
  }
  const plan = M._SPI_prepare(h.pstrdup('SELECT 1::int8 AS a, 2::int2 AS b'), 0, 0) as number
  const portal = M._SPI_cursor_open_with_paramlist(0, plan, 0, 0) as number
  const td = h.u32at(portal + L.portal_tupdesc)
  const natts = td ? h.i32at(td + L.tupdesc_natts) : null
  expect('Portal.tupDesc natts', natts, 2)
  if (natts === 2) {
    const attr = td + L.tupdesc_compact_attrs + L.compact_attr_size * 2 + L.attr_size
    expect('Portal.tupDesc atttypid 2', h.u32at(attr + L.attr_atttypid), OID.INT2)
  }
  M._SPI_cursor_close(portal)
  M._SPI_freeplan(plan)
  M._SPI_finish()
}

/** Run the probes in a rolled-back transaction; throws (naming every mismatch) if the ABI differs. */
export async function selfTest(db: PGlite, heap: Heap, elog: Elog): Promise<void> {
  await db.exec('BEGIN')
  let bad: string[]
  try {
    const r = elog.tryCatch(() => probe(heap))
    bad = r.ok ? r.value : [`a probe raised: ${r.error.message}`]
  } finally {
    await db.exec('ROLLBACK')
  }
  if (bad.length)
    throw new Error(
      `pyglite: this PGlite build's layout differs from PostgreSQL 18.6 wasm32: ${bad.join('; ')}`,
    )
}
