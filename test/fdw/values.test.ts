// Values a wrapper returns, converted to the foreign table's column types (packed columns and the JSON
// path): every common type, NULLs, and the errors of values that do not fit (22003, 22001, 22021, a
// row that is neither a dict nor a sequence).
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client

beforeAll(async () => {
  srv = await startServer({ args: ['--python-path', path.join(ROOT, 'test', 'fdw', 'python')] })
  c = new pg.Client(srv.url())
  await c.connect()
  await c.query(`
    CREATE EXTENSION multicorn;
    CREATE SERVER vals FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Values');
    CREATE FOREIGN TABLE types (i2 int2, i8 int8, f4 real, f8 float8, b bool, n numeric, d date,
      ts timestamptz, j jsonb, a int[], y bytea, vc varchar(3), t text) SERVER vals OPTIONS (case 'types');
    CREATE FOREIGN TABLE nulls (i int, t text, f float8) SERVER vals OPTIONS (case 'nulls');
    CREATE FOREIGN TABLE int_overflow (v int) SERVER vals OPTIONS (case 'int_overflow');
    CREATE FOREIGN TABLE varchar_long (v varchar(3)) SERVER vals OPTIONS (case 'varchar_long');
    CREATE FOREIGN TABLE nul (v text) SERVER vals OPTIONS (case 'nul');
    CREATE FOREIGN TABLE bad_row (v int) SERVER vals OPTIONS (case 'bad_row');
    SET timezone = 'UTC';`)
}, 120_000)

afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

it('converts every common type', async () => {
  const r = await c.query(`SELECT i2, i8::text, f4, f8::text, b, n::text, d::text, ts::text, j::text,
    a::text, encode(y, 'hex') AS y, vc, t FROM types`)
  expect(r.rows[0]).toEqual({
    i2: 7,
    i8: '4611686018427387904',
    f4: 1.5,
    f8: 'NaN',
    b: true,
    n: '1.25',
    d: '2024-01-02',
    ts: '2024-01-02 03:04:05+00',
    j: '{"a": [1, 2]}',
    a: '{1,NULL,3}',
    y: '00ff',
    vc: 'abc',
    t: 'héllo',
  })
  expect(Object.values(r.rows[1]).every((v) => v === null)).toBe(true)
})

it('keeps NULLs beside values', async () => {
  expect((await c.query('SELECT * FROM nulls')).rows).toEqual([
    { i: null, t: null, f: null },
    { i: 1, t: 'x', f: 1.5 },
  ])
})

it("raises the column type's error for a value that does not fit", async () => {
  const e1 = await c.query('SELECT * FROM int_overflow').catch((x) => x)
  expect([e1.code, e1.message]).toEqual(['22003', 'value "2147483648" is out of range for type integer'])
  const e2 = await c.query('SELECT * FROM varchar_long').catch((x) => x)
  expect([e2.code, e2.message]).toEqual(['22001', 'value too long for type character varying(3)'])
  const e3 = await c.query('SELECT * FROM nul').catch((x) => x)
  expect(e3.code).toBe('22021')
  const e4 = await c.query('SELECT * FROM bad_row').catch((x) => x)
  expect([e4.message, e4.detail]).toEqual([
    'Error in python: TypeError',
    'a row must be a dict or a sequence, not int',
  ])
})

it('hands a text that starts with a byte-order mark over unchanged: quals and written values', async () => {
  // JavaScript's TextDecoder drops a leading U+FEFF unless told not to: the mark is part of the value
  await c.query(`CREATE SERVER bom FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $$
seen = []
def read(quals, columns):
    for q in quals:
        yield {'v': q.value, 'n': len(q.value)}
    for v in seen:
        yield {'v': v, 'n': len(v)}
def write(v, n):
    seen.extend(v)
$$);
    CREATE FOREIGN TABLE bom_t (v text, n int) SERVER bom`)
  const r = await c.query("SELECT n, v = E'\\uFEFFab' AS same FROM bom_t WHERE v = E'\\uFEFFab'")
  expect(r.rows).toEqual([{ n: 3, same: true }])
  await c.query("INSERT INTO bom_t VALUES (E'\\uFEFFcd', 0)")
  const w = await c.query("SELECT n FROM bom_t WHERE v = E'\\uFEFFcd'")
  expect(w.rows).toEqual([{ n: 3 }, { n: 3 }])
})

it('refuses a str with a lone surrogate for a text column instead of storing bytes that are not UTF-8', async () => {
  // multicorn2 encodes with Python's strict UTF-8 codec: UnicodeEncodeError; the packed column used to carry
  // the surrogate's bytes (ED B2 80) into the text value, the JSON path a U+FFFD in its place
  await c.query(`CREATE SERVER sur FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $$
def read():
    yield {'v': 'ok', 'n': 1}
    yield {'v': 'a\\udc80b', 'n': 2}
$$);
    CREATE SERVER sur2 FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $$
def read():
    yield {'v': 'ok', 'n': 1}
    yield {'v': 'a\\udc80b', 'n': None}
$$);
    CREATE FOREIGN TABLE sur_packed (v text, n int) SERVER sur;
    CREATE FOREIGN TABLE sur_json (v varchar(5), n int) SERVER sur2;
    CREATE TABLE sur_copy (v text)`)
  for (const t of ['sur_packed', 'sur_json']) {
    const e = await c.query(`INSERT INTO sur_copy SELECT v FROM ${t}`).catch((x) => x)
    expect([e.message, e.detail]).toEqual([
      'Error in python: UnicodeEncodeError',
      "'utf-8' codec can't encode character '\\udc80' in position 1: surrogates not allowed",
    ])
  }
  expect((await c.query('SELECT count(*)::int AS n FROM sur_copy')).rows).toEqual([{ n: 0 }])
})

it('hands float8/real values over as floats (whole numbers, -0, NaN, infinities) and an array column qual as a list', async () => {
  // JSON writes 2.0 as 2 and -0 as 0: Python got int 2 and 0 where multicorn2 gives PyFloat values. The
  // wrapper logs what it was given; a scan without quals returns the log (and empties it).
  await c.query(`CREATE SERVER floats FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $$
log = []
def read(quals, columns):
    log.extend('%s %s %r' % (q.field_name, q.operator, q.value) for q in quals)
    if not quals:
        out = [{'r': v} for v in log]
        log.clear()
        return out
    return []
def write(f8, f4, r):
    log.append(repr((f8, f4)))
$$);
    CREATE FOREIGN TABLE floats_t (f8 float8, f4 real, r text) SERVER floats`)
  const seen = async (where: string) => {
    await c.query(`SELECT r FROM floats_t WHERE ${where}`)
    return (await c.query('SELECT r FROM floats_t')).rows.map((x) => x.r)
  }
  expect(await seen('f8 = 2')).toEqual(['f8 = 2.0'])
  expect(await seen("f8 = '-0'")).toEqual(['f8 = -0.0'])
  expect(await seen("f4 = 3 AND f8 = 'NaN'")).toEqual(['f4 = 3.0', 'f8 = nan'])
  expect(await seen("f8 = ANY(ARRAY[1, 2.5, '-Infinity'])")).toEqual(["f8 ('=', True) [1.0, 2.5, -inf]"])
  await c.query('ALTER FOREIGN TABLE floats_t ADD COLUMN a int[], ADD COLUMN o oidvector')
  expect(await seen("a = '{{1,NULL},{3,4}}' AND o = '1 2'")).toEqual(['a = [[1, None], [3, 4]]', "o = '1 2'"])
  await c.query('ALTER FOREIGN TABLE floats_t DROP COLUMN a, DROP COLUMN o')
  await c.query("INSERT INTO floats_t (f8, f4) VALUES (2, 3), ('-0', '-0'), ('Infinity', 1.5)")
  expect((await c.query('SELECT r FROM floats_t')).rows.map((x) => x.r)).toEqual([
    '([2.0, -0.0, inf], [3.0, -0.0, 1.5])',
  ])
})
