// What a wrapper is made from: a foreign table's options (table, then server, then the user mapping's,
// later ones winning, as multicorn2's getOptions merges them into one dict) and its columns
// (ColumnDefinition: name, type OID, typmod, formatted type with and without modifier, column options).
// Read with SPI from the catalogs; the fingerprint tells the Python side when to re-make the instance.
import type { Spi } from '../engine/pg/spi.js'
import { columnKinds } from './values.js'

export interface ColumnDef {
  attnum: number
  name: string
  typoid: number
  typmod: number
  /** the base type (a domain's) and, for arrays, the element's: how values convert */
  baseoid: number
  elemoid: number
  collation: number
}

export interface TableDef {
  relid: number
  serverid: number
  servername: string
  options: Record<string, string>
  /** [name, typoid, typmod, type_name, base_type_name, options] as ColumnDefinition takes them */
  columns: Array<[string, number, number, string, string, Record<string, string>]>
  cols: ColumnDef[]
  fingerprint: string
  /** per column: (python to_pg kind, JS builder kind, from_pg category) */
  kinds: ReturnType<typeof columnKinds>
}

const OPTIONS_SQL = (relid: number) => `
SELECT x.s, o.option_name, o.option_value FROM (
  SELECT 1 AS s, ft.ftoptions AS opts FROM pg_catalog.pg_foreign_table ft WHERE ft.ftrelid = ${relid}
  UNION ALL
  SELECT 2, srv.srvoptions FROM pg_catalog.pg_foreign_table ft
    JOIN pg_catalog.pg_foreign_server srv ON srv.oid = ft.ftserver WHERE ft.ftrelid = ${relid}
  UNION ALL
  SELECT 3, (SELECT um.umoptions FROM pg_catalog.pg_user_mappings um
      JOIN pg_catalog.pg_foreign_table ft ON um.srvid = ft.ftserver
     WHERE ft.ftrelid = ${relid} AND um.umuser IN (0, current_user::regrole::oid)
     ORDER BY um.umuser DESC LIMIT 1)
) x, pg_catalog.pg_options_to_table(x.opts) o ORDER BY x.s`

const SERVER_SQL = (relid: number) => `
SELECT srv.oid, srv.srvname FROM pg_catalog.pg_foreign_table ft
  JOIN pg_catalog.pg_foreign_server srv ON srv.oid = ft.ftserver WHERE ft.ftrelid = ${relid}`

const COLUMNS_SQL = (relid: number) => `
SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, pg_catalog.format_type(a.atttypid, a.atttypmod),
       pg_catalog.format_type(a.atttypid, NULL),
       (SELECT pg_catalog.json_object_agg(o.option_name, o.option_value)
          FROM pg_catalog.pg_options_to_table(a.attfdwoptions) o),
       b.oid, b.typelem, a.attcollation
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
 WHERE a.attrelid = ${relid} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`

/** Server options by server name (IMPORT FOREIGN SCHEMA) and the user mapping's on top. */
const SERVER_OPTIONS_SQL = (serverid: number) => `
SELECT x.s, o.option_name, o.option_value FROM (
  SELECT 1 AS s, srv.srvoptions AS opts FROM pg_catalog.pg_foreign_server srv WHERE srv.oid = ${serverid}
) x, pg_catalog.pg_options_to_table(x.opts) o`

export function readTableDef(spi: Spi, relid: number): TableDef {
  const rel = relid >>> 0
  spi.connect()
  const opts = spi.queryText(OPTIONS_SQL(rel), true)
  const srv = spi.queryText(SERVER_SQL(rel), true)
  const cols = spi.queryText(COLUMNS_SQL(rel), true)
  spi.finish()
  const options: Record<string, string> = {}
  for (const [, k, v] of opts.rows) if (k != null) options[k] = v ?? ''
  const def: TableDef = {
    relid: rel,
    serverid: Number(srv.rows[0]?.[0] ?? 0),
    servername: srv.rows[0]?.[1] ?? '',
    options,
    columns: [],
    cols: [],
    fingerprint: '',
    kinds: [],
  }
  for (const r of cols.rows) {
    const c: ColumnDef = {
      attnum: Number(r[0]),
      name: r[1] ?? '',
      typoid: Number(r[2]),
      typmod: Number(r[3]),
      baseoid: Number(r[7]),
      elemoid: Number(r[8]),
      collation: Number(r[9]),
    }
    def.cols.push(c)
    def.columns.push([c.name, c.typoid, c.typmod, r[4] ?? '', r[5] ?? '', r[6] ? JSON.parse(r[6]) : {}])
  }
  def.kinds = columnKinds(def.cols)
  def.fingerprint = JSON.stringify([options, def.columns])
  return def
}

export function readServerOptions(spi: Spi, serverid: number): Record<string, string> {
  spi.connect()
  const r = spi.queryText(SERVER_OPTIONS_SQL(serverid >>> 0), true)
  spi.finish()
  const out: Record<string, string> = {}
  for (const [, k, v] of r.rows) if (k != null) out[k] = v ?? ''
  return out
}

/** The definition as pyglite_fdw._instance reads it (JSON), with the running transaction's level. */
export function defJson(def: TableDef, sid: number, level: number, serializable: boolean): string {
  return JSON.stringify({
    sid,
    relid: def.relid,
    fingerprint: def.fingerprint,
    options: def.options,
    columns: def.columns,
    level,
    serializable,
  })
}
