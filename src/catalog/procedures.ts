// Function metadata from pg_proc/pg_type, read through SPI (as plpy_procedure.c reads the catalog row).
import type { Spi } from '../engine/pg/spi.js'

export interface ProcRow {
  oid: number
  name: string
  schema: string
  src: string
  rettype: number
  retset: boolean
  /** pg_proc.prokind: f function, p procedure, a aggregate, w window */
  kind: string
  volatility: string
  /** types of the input arguments (proargtypes) */
  argtypes: number[]
  /** names of the input arguments, '' where unnamed */
  argnames: string[]
  /** all argument types and modes when OUT/INOUT/TABLE/VARIADIC arguments exist */
  allargtypes: number[] | null
  argmodes: string[] | null
  allargnames: string[] | null
  rettyptype: string
  rettypname: string
  /** catalog row version: the procedure is recompiled when it changes (CREATE OR REPLACE) */
  version: string
  /**
   * TRANSFORM FOR TYPE: pg_proc.protrftypes that have a transform for the function's language, with the
   * names of its FROM SQL and TO SQL functions' C symbols (null where the transform has none)
   */
  transforms?: Array<{ type: number; fromSql: string | null; toSql: string | null }>
}

const PROC_SQL = (
  oid: number,
) => `SELECT p.proname, n.nspname, p.prosrc, p.prorettype::int, p.proretset, p.prokind,
  p.provolatile, array_to_json(p.proargtypes::oid[])::text, array_to_json(p.proallargtypes)::text,
  array_to_json(p.proargmodes)::text, array_to_json(p.proargnames)::text, p.xmin::text || ':' || p.ctid::text,
  t.typtype, t.typname,
  (SELECT json_agg(json_build_array(x.trftype::int, f.prosrc, s.prosrc))
     FROM pg_catalog.pg_transform x LEFT JOIN pg_catalog.pg_proc f ON f.oid = x.trffromsql
     LEFT JOIN pg_catalog.pg_proc s ON s.oid = x.trftosql
    WHERE x.trflang = p.prolang AND x.trftype = ANY (p.protrftypes))::text
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type t ON t.oid = p.prorettype WHERE p.oid = ${oid >>> 0}`

/** Look a function up by OID; null if it does not exist. Needs an SPI connection. */
export function readProc(spi: Spi, oid: number): ProcRow | null {
  const r = spi.queryText(PROC_SQL(oid), false)
  const row = r.rows[0]
  if (!row) return null
  const json = <T>(s: string | null | undefined): T | null => (s == null ? null : (JSON.parse(s) as T))
  // oid arrays come out of array_to_json as strings
  const argtypes = (json<Array<number | string>>(row[7]) ?? []).map(Number)
  const allargtypes = json<Array<number | string>>(row[8])?.map(Number) ?? null
  const argmodes = json<string[]>(row[9])
  const allargnames = json<string[]>(row[10])
  // names of the input arguments only (IN, INOUT, VARIADIC), as PL/Python binds them
  const argnames: string[] = []
  if (allargnames) {
    allargnames.forEach((n, i) => {
      const mode = argmodes?.[i] ?? 'i'
      if (mode === 'i' || mode === 'b' || mode === 'v') argnames.push(n)
    })
  }
  while (argnames.length < argtypes.length) argnames.push('')
  return {
    oid,
    name: row[0] ?? '',
    schema: row[1] ?? '',
    src: row[2] ?? '',
    rettype: Number(row[3]),
    retset: row[4] === 't',
    kind: row[5] ?? 'f',
    volatility: row[6] ?? 'v',
    argtypes,
    argnames,
    allargtypes,
    argmodes,
    allargnames,
    version: row[11] ?? '',
    rettyptype: row[12] ?? 'b',
    rettypname: row[13] ?? '',
    transforms: (json<Array<[number, string | null, string | null]>>(row[14]) ?? []).map(([type, f, s]) => ({
      type,
      fromSql: f,
      toSql: s,
    })),
  }
}
