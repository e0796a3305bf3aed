// TD as PL/Python builds it (plpy_exec.c PLy_trigger_build_args), seen through node-postgres: every key,
// values converted like function arguments, a fresh dict per call, SD per (function, relation), GD per
// session, and TD kept intact across a recursive call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, fn, value } from '../plpython/util.js'

describe('TD', () => {
  let srv: TestServer
  let c: Client
  beforeAll(async () => {
    srv = await startServer()
    c = await connect(srv)
  })
  afterAll(async () => {
    await c?.end()
    await srv?.stop()
  })

  const messages = () => c.notices.splice(0).map((n) => n.message)

  it('has every key, in PL/Python order, with the trigger arguments as strings', async () => {
    await c.query('CREATE SCHEMA s1')
    await c.query('CREATE TABLE s1.t (a int, b text)')
    await fn(
      c,
      'td_dump() RETURNS trigger',
      `plpy.notice(repr(list(TD.keys())))
plpy.notice(repr({k: v for k, v in TD.items() if k != 'relid'}))
plpy.notice(TD['relid'])`,
    )
    await c.query(`CREATE TRIGGER t_b BEFORE INSERT OR UPDATE OR DELETE ON s1.t
      FOR EACH ROW EXECUTE FUNCTION td_dump(23, 'skidoo')`)
    await c.query(`CREATE TRIGGER t_s AFTER TRUNCATE ON s1.t FOR EACH STATEMENT EXECUTE FUNCTION td_dump()`)
    const relid = String(await value(c, "SELECT 's1.t'::regclass::oid"))
    messages()

    await c.query("INSERT INTO s1.t VALUES (1, 'one')")
    expect(messages()).toEqual([
      "['name', 'relid', 'table_name', 'table_schema', 'when', 'level', 'old', 'new', 'event', 'args']",
      "{'name': 't_b', 'table_name': 't', 'table_schema': 's1', 'when': 'BEFORE', 'level': 'ROW', 'old': None, 'new': {'a': 1, 'b': 'one'}, 'event': 'INSERT', 'args': ['23', 'skidoo']}",
      relid,
    ])
    await c.query("UPDATE s1.t SET b = 'uno'")
    expect(messages()).toEqual([
      "['name', 'relid', 'table_name', 'table_schema', 'when', 'level', 'new', 'old', 'event', 'args']",
      "{'name': 't_b', 'table_name': 't', 'table_schema': 's1', 'when': 'BEFORE', 'level': 'ROW', 'new': {'a': 1, 'b': 'uno'}, 'old': {'a': 1, 'b': 'one'}, 'event': 'UPDATE', 'args': ['23', 'skidoo']}",
      relid,
    ])
    await c.query('DELETE FROM s1.t')
    expect(messages()[1]).toBe(
      "{'name': 't_b', 'table_name': 't', 'table_schema': 's1', 'when': 'BEFORE', 'level': 'ROW', 'new': None, 'old': {'a': 1, 'b': 'uno'}, 'event': 'DELETE', 'args': ['23', 'skidoo']}",
    )
    await c.query('TRUNCATE s1.t')
    expect(messages()[1]).toBe(
      "{'name': 't_s', 'table_name': 't', 'table_schema': 's1', 'when': 'AFTER', 'level': 'STATEMENT', 'old': None, 'new': None, 'event': 'TRUNCATE', 'args': None}",
    )
  })

  it('converts column values as function arguments are converted', async () => {
    await c.query(`CREATE TYPE pair AS (x int, y text)`)
    await c.query(`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`)
    await c.query(`CREATE TABLE conv (i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(6,2), b bool,
      t text, vc varchar(5), bp char(4), by bytea, d date, ts timestamp, arr int[], p pair, dom posint, j jsonb, u uuid)`)
    await fn(
      c,
      'conv_show() RETURNS trigger',
      `for k in ('i2', 'i4', 'i8', 'f4', 'f8', 'n', 'b', 't', 'vc', 'bp', 'by', 'd', 'ts', 'arr', 'p', 'dom', 'j', 'u'):
    plpy.notice('%s %s %r' % (k, type(TD['new'][k]).__name__, TD['new'][k]))`,
    )
    await c.query('CREATE TRIGGER conv_t BEFORE INSERT ON conv FOR EACH ROW EXECUTE FUNCTION conv_show()')
    messages()
    await c.query(`INSERT INTO conv VALUES (-2, 4, 9007199254740993, 1.5, 0.1, 1.5, true, 'tëxt', 'ab', 'x',
      '\\x00ff', '2020-01-02', '2020-01-02 03:04:05', '{{1,2},{3,NULL}}', (1, 'one'), 7, '{"k": [1]}',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')`)
    expect(messages()).toEqual([
      'i2 int -2',
      'i4 int 4',
      'i8 int 9007199254740993',
      'f4 float 1.5',
      'f8 float 0.1',
      "n Decimal Decimal('1.50')",
      'b bool True',
      "t str 'tëxt'",
      "vc str 'ab'",
      "bp str 'x   '",
      "by bytes b'\\x00\\xff'",
      "d str '2020-01-02'",
      "ts str '2020-01-02 03:04:05'",
      'arr list [[1, 2], [3, None]]',
      "p dict {'x': 1, 'y': 'one'}",
      'dom int 7',
      'j str \'{"k": [1]}\'',
      "u str 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    ])
    await c.query('INSERT INTO conv (i4) VALUES (NULL)')
    expect(messages().every((m) => m.endsWith(' NoneType None'))).toBe(true)
  })

  it('leaves out dropped columns, and stored generated ones from TD["new"] of BEFORE triggers', async () => {
    await c.query(`CREATE TABLE gen (a int, x int, b int GENERATED ALWAYS AS (a * 10) STORED, c text)`)
    await c.query('ALTER TABLE gen DROP COLUMN x')
    await fn(
      c,
      'gen_show() RETURNS trigger',
      `plpy.notice('%s new=%r old=%r' % (TD['when'], TD['new'], TD['old']))`,
    )
    await c.query(
      `CREATE TRIGGER gen_b BEFORE INSERT OR UPDATE ON gen FOR EACH ROW EXECUTE FUNCTION gen_show()`,
    )
    await c.query(
      `CREATE TRIGGER gen_a AFTER INSERT OR UPDATE ON gen FOR EACH ROW EXECUTE FUNCTION gen_show()`,
    )
    messages()
    await c.query(`INSERT INTO gen (a, c) VALUES (1, 'x')`)
    await c.query(`UPDATE gen SET a = 2`)
    expect(messages()).toEqual([
      "BEFORE new={'a': 1, 'c': 'x'} old=None",
      "AFTER new={'a': 1, 'b': 10, 'c': 'x'} old=None",
      "BEFORE new={'a': 2, 'c': 'x'} old={'a': 1, 'b': 10, 'c': 'x'}",
      "AFTER new={'a': 2, 'b': 20, 'c': 'x'} old={'a': 1, 'b': 10, 'c': 'x'}",
    ])
  })

  it('is a fresh dict per call; SD belongs to (function, relation), GD to the session', async () => {
    await c.query('CREATE TABLE sd1 (a int)')
    await c.query('CREATE TABLE sd2 (a int)')
    await fn(
      c,
      'sd_count() RETURNS trigger',
      `SD['n'] = SD.get('n', 0) + 1
GD['n'] = GD.get('n', 0) + 1
plpy.notice('%s SD=%d GD=%d marker=%r' % (TD['table_name'], SD['n'], GD['n'], TD.get('marker')))
TD['marker'] = 1
TD['new']['a'] = -1`,
    )
    await c.query('CREATE TRIGGER sd1_t BEFORE INSERT ON sd1 FOR EACH ROW EXECUTE FUNCTION sd_count()')
    await c.query('CREATE TRIGGER sd2_t BEFORE INSERT ON sd2 FOR EACH ROW EXECUTE FUNCTION sd_count()')
    messages()
    await c.query('INSERT INTO sd1 VALUES (1), (2)')
    await c.query('INSERT INTO sd2 VALUES (1)')
    await c.query('INSERT INTO sd1 VALUES (3)')
    expect(messages()).toEqual([
      'sd1 SD=1 GD=1 marker=None',
      'sd1 SD=2 GD=2 marker=None',
      'sd2 SD=1 GD=3 marker=None',
      'sd1 SD=3 GD=4 marker=None',
    ])
    // TD["new"] changed without "MODIFY": the row is kept as it was
    expect((await c.query('SELECT a FROM sd1 ORDER BY a')).rows).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }])
    // another session has its own GD (and its own SD)
    const other = await connect(srv)
    try {
      await other.query('INSERT INTO sd1 VALUES (4)')
      expect(other.notices.map((n) => n.message)).toEqual(['sd1 SD=1 GD=1 marker=None'])
    } finally {
      await other.end()
    }
  })

  it('keeps the caller’s TD when the trigger fires itself through plpy.execute', async () => {
    await c.query('CREATE TABLE rec (a int)')
    await fn(
      c,
      'rec_f() RETURNS trigger',
      `if TD['new']['a'] < 3:
    plpy.execute('INSERT INTO rec VALUES (%d)' % (TD['new']['a'] + 1))
plpy.notice('a=%d event=%s' % (TD['new']['a'], TD['event']))
TD['new']['a'] = TD['new']['a'] * 100
return 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER rec_t BEFORE INSERT ON rec FOR EACH ROW EXECUTE FUNCTION rec_f()')
    messages()
    await c.query('INSERT INTO rec VALUES (1)')
    expect(messages()).toEqual(['a=3 event=INSERT', 'a=2 event=INSERT', 'a=1 event=INSERT'])
    expect((await c.query('SELECT a FROM rec ORDER BY a')).rows).toEqual([{ a: 100 }, { a: 200 }, { a: 300 }])
  })

  it('follows the table when columns are added or dropped, and the function when it is replaced', async () => {
    await c.query('CREATE TABLE alt (a int, b text, c int)')
    await fn(
      c,
      'alt_f() RETURNS trigger',
      `plpy.notice('v1 %r' % TD['new'])
TD['new']['c'] = 7
return 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER alt_t BEFORE INSERT ON alt FOR EACH ROW EXECUTE FUNCTION alt_f()')
    messages()
    await c.query("INSERT INTO alt VALUES (1, 'x', 0)")
    await c.query('ALTER TABLE alt DROP COLUMN b')
    await c.query('INSERT INTO alt VALUES (2, 0)')
    await c.query('ALTER TABLE alt ADD COLUMN d numeric')
    await c.query('INSERT INTO alt VALUES (3, 0, 1.5)')
    await fn(c, 'alt_f() RETURNS trigger', `plpy.notice('v2 %r' % TD['new'])`)
    await c.query('INSERT INTO alt VALUES (4, 0, 2.5)')
    expect(messages()).toEqual([
      "v1 {'a': 1, 'b': 'x', 'c': 0}",
      "v1 {'a': 2, 'c': 0}",
      "v1 {'a': 3, 'c': 0, 'd': Decimal('1.5')}",
      "v2 {'a': 4, 'c': 0, 'd': Decimal('2.5')}",
    ])
    expect((await c.query('SELECT a, c, d FROM alt ORDER BY a')).rows).toEqual([
      { a: 1, c: 7, d: null },
      { a: 2, c: 7, d: null },
      { a: 3, c: 7, d: '1.5' },
      { a: 4, c: 0, d: '2.5' },
    ])
  })
})
