// Statements that call every built-in function, operator, cast and aggregate of pg_catalog once, with a
// sample value of each argument's type (test/containment/sweep.test.ts runs them). Functions whose job is
// to wait, to end sessions or to touch files outside the data directory are left out (SKIP).
import type pg from 'pg'

/** A sample literal for each type an argument can have; polymorphic types get an int4 flavour. */
const SAMPLES: Record<string, string> = {
  int2: '1',
  int4: '1',
  int8: '1',
  oid: '1',
  float4: '1.5',
  float8: '1.5',
  numeric: '1.5',
  money: '1.5',
  bool: 'true',
  text: "'a'",
  varchar: "'a'",
  bpchar: "'a'",
  char: "'a'",
  name: "'a'",
  cstring: "'1'",
  bytea: "'\\x0102'",
  bit: "'1'",
  varbit: "'1'",
  date: "'2020-01-02'",
  time: "'01:02:03'",
  timetz: "'01:02:03+01'",
  timestamp: "'2020-01-02 03:04:05'",
  timestamptz: "'2020-01-02 03:04:05+00'",
  interval: "'1 day'",
  json: '\'{"a":1}\'',
  jsonb: '\'{"a":1}\'',
  jsonpath: "'$.a'",
  xml: "'<a/>'",
  uuid: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
  inet: "'127.0.0.1'",
  cidr: "'10.0.0.0/8'",
  macaddr: "'08:00:2b:01:02:03'",
  macaddr8: "'08:00:2b:01:02:03:04:05'",
  point: "'(1,2)'",
  lseg: "'[(0,0),(1,1)]'",
  line: "'{1,-1,0}'",
  box: "'(1,1),(0,0)'",
  path: "'((0,0),(1,1),(1,0))'",
  polygon: "'((0,0),(1,1),(1,0))'",
  circle: "'<(0,0),1>'",
  tsvector: "'a b'",
  tsquery: "'a & b'",
  regclass: "'pg_class'",
  regproc: "'now'",
  regprocedure: "'now()'",
  regoper: "'||'",
  regoperator: "'+(int4,int4)'",
  regtype: "'int4'",
  regconfig: "'english'",
  regdictionary: "'simple'",
  regnamespace: "'pg_catalog'",
  regrole: "'postgres'",
  regcollation: '\'"C"\'',
  xid: "'1'",
  xid8: "'1'",
  cid: "'1'",
  tid: "'(0,1)'",
  pg_lsn: "'0/16B3748'",
  pg_snapshot: "'10:20:10,14,15'",
  txid_snapshot: "'10:20:10,14,15'",
  int4range: "'[1,5)'",
  int8range: "'[1,5)'",
  numrange: "'[1,5)'",
  daterange: "'[2020-01-01,2020-02-01)'",
  tsrange: "'[2020-01-01,2020-02-01)'",
  tstzrange: "'[2020-01-01,2020-02-01)'",
  int4multirange: "'{[1,5)}'",
  int8multirange: "'{[1,5)}'",
  nummultirange: "'{[1,5)}'",
  datemultirange: "'{[2020-01-01,2020-02-01)}'",
  tsmultirange: "'{[2020-01-01,2020-02-01)}'",
  tstzmultirange: "'{[2020-01-01,2020-02-01)}'",
  aclitem: "'postgres=r/postgres'",
  int2vector: "'1 2'",
  oidvector: "'1 2'",
  anyelement: '1::int4',
  anynonarray: '1::int4',
  anycompatible: '1::int4',
  anycompatiblenonarray: '1::int4',
  anyarray: "'{1,2}'::int4[]",
  anycompatiblearray: "'{1,2}'::int4[]",
  anyrange: "'[1,5)'::int4range",
  anycompatiblerange: "'[1,5)'::int4range",
  anymultirange: "'{[1,5)}'::int4multirange",
  anycompatiblemultirange: "'{[1,5)}'::int4multirange",
  anyenum: "'a'::public.sweep_enum",
  record: 'row(1, 2)',
  any: '1::int4',
  void: 'NULL::void',
  unknown: "'a'",
  pg_node_tree: 'NULL::pg_node_tree',
  pg_ndistinct: 'NULL::pg_ndistinct',
  pg_dependencies: 'NULL::pg_dependencies',
  pg_mcv_list: 'NULL::pg_mcv_list',
  pg_brin_bloom_summary: 'NULL::pg_brin_bloom_summary',
  pg_brin_minmax_multi_summary: 'NULL::pg_brin_minmax_multi_summary',
  gtsvector: 'NULL::gtsvector',
  refcursor: "'c'",
}

/** Sample for a type (pg_type.typname; arrays are `_element`), cast to that type. */
export function sample(typname: string): string | undefined {
  if (typname.startsWith('_')) {
    const el = sample(typname.slice(1))
    return el === undefined ? undefined : `ARRAY[${el}]::pg_catalog.${JSON.stringify(typname)}`
  }
  const s = SAMPLES[typname]
  if (s === undefined) return undefined
  return s.includes('::') || typname.startsWith('any') || typname === 'record' || typname === 'any'
    ? s
    : `${s}::pg_catalog.${JSON.stringify(typname)}`
}

/** Names whose calls wait, end sessions, write files or reconfigure the server: not called. */
const SKIP = new Set([
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_switch_wal',
  'pg_create_restore_point',
  'lo_export',
  'lo_import',
  'pg_file_write',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_log_backend_memory_contexts',
  'pg_replication_origin_create',
  'pg_stat_reset_shared',
])

export interface Call {
  what: string
  sql: string
}

/** One statement per built-in function (SRFs: a few rows), aggregate, operator and cast. */
export async function calls(c: pg.Client): Promise<Call[]> {
  const out: Call[] = []
  const fns = await c.query<{
    name: string
    args: string[]
    kind: string
    retset: boolean
    variadic: string
  }>(`
    SELECT p.proname AS name, p.prokind AS kind, p.proretset AS retset, p.provariadic::regtype::text AS variadic,
           ARRAY(SELECT t.typname::text FROM unnest(p.proargtypes) WITH ORDINALITY u(o, n)
                 JOIN pg_type t ON t.oid = u.o ORDER BY u.n) AS args
    FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind IN ('f', 'a')
      AND NOT 'internal'::regtype = ANY (p.proargtypes) AND p.prorettype <> 'internal'::regtype
      AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
    ORDER BY p.oid`)
  for (const f of fns.rows) {
    if (SKIP.has(f.name)) continue
    const args = f.args.map(sample)
    if (args.some((a) => a === undefined)) continue
    const call = `pg_catalog.${JSON.stringify(f.name)}(${args.join(', ')})`
    const sig = `${f.name}(${f.args.join(', ')})`
    if (f.kind === 'a') {
      const cols = args.map((a, i) => `${a} AS c${i}`).join(', ')
      const aggArgs = args.map((_, i) => `c${i}`).join(', ')
      out.push({
        what: sig,
        sql: `SELECT pg_catalog.${JSON.stringify(f.name)}(${aggArgs}) FROM (SELECT ${cols}) s`,
      })
    } else if (f.retset) out.push({ what: sig, sql: `SELECT * FROM ${call} LIMIT 3` })
    else out.push({ what: sig, sql: `SELECT ${call}` })
  }
  const ops = await c.query<{ name: string; l: string | null; r: string }>(`
    SELECT oprname::text AS name, (SELECT typname::text FROM pg_type WHERE oid = oprleft) AS l,
           (SELECT typname::text FROM pg_type WHERE oid = oprright) AS r
    FROM pg_operator WHERE oprnamespace = 'pg_catalog'::regnamespace AND oprcode <> 0 ORDER BY oid`)
  for (const o of ops.rows) {
    const l = o.l === null ? '' : sample(o.l)
    const r = sample(o.r)
    if (l === undefined || r === undefined) continue
    out.push({
      what: `operator ${o.l ?? ''} ${o.name} ${o.r}`,
      sql: `SELECT ${l} OPERATOR(pg_catalog.${o.name}) ${r}`,
    })
  }
  const casts = await c.query<{ s: string; t: string }>(`
    SELECT (SELECT typname::text FROM pg_type WHERE oid = castsource) AS s, format_type(casttarget, NULL) AS t
    FROM pg_cast ORDER BY oid`)
  for (const k of casts.rows) {
    const v = sample(k.s)
    if (v === undefined) continue
    out.push({ what: `cast ${k.s} → ${k.t}`, sql: `SELECT (${v})::${k.t}` })
  }
  // what reaches the libraries PostgreSQL loads at run time: text search configurations and dictionaries
  // (dict_snowball.so), collations, encodings (the conversion libraries)
  const q = async (sql: string) => (await c.query<{ n: string }>(sql)).rows.map((r) => r.n)
  for (const cfg of await q('SELECT cfgname::text AS n FROM pg_ts_config ORDER BY 1'))
    out.push({
      what: `text search configuration ${cfg}`,
      sql: `SELECT to_tsvector('${cfg}', 'The quick foxes were running')`,
    })
  for (const d of await q('SELECT dictname::text AS n FROM pg_ts_dict ORDER BY 1'))
    out.push({ what: `text search dictionary ${d}`, sql: `SELECT ts_lexize('${d}', 'running')` })
  for (const coll of await q(
    "SELECT collname::text AS n FROM pg_collation WHERE collencoding IN (-1, 6) AND collname <> 'default' ORDER BY 1",
  ))
    out.push({
      what: `collation ${coll}`,
      sql: `SELECT upper('straße' COLLATE "${coll}"), 'a' < 'B' COLLATE "${coll}", max(x COLLATE "${coll}") FROM (VALUES ('é'), ('e')) v(x)`,
    })
  for (const enc of await q(
    'SELECT DISTINCT pg_encoding_to_char(contoencoding)::text AS n FROM pg_conversion ORDER BY 1',
  ))
    out.push({ what: `encoding ${enc}`, sql: `SELECT convert_to('aé€', '${enc}')` })
  return out
}
